#!/usr/bin/python3
"""yoloswitch-edge under load: frames/s and CPU per frame with 1, 4 and 8
concurrent clients.

Each client is a Python websockets client written from docs/PROTOCOL.md
(tests/integration/edge_client.py) that replays canned H.264 packets
(vtest.avi at 640x480, 1 Mbit/s, made by our encoder once, before the
measurement) as fast as the server takes them, with as many frames in
flight as the server's HELLO allows.  So the server, not the clients'
encoders, is what is measured; the clients use a little of the same
2 cores, which the CPU figures leave out (they are the server process's own
user + system time, from /proc, over the measured seconds).

Usage: bench/edge_load.py [--seconds S] [--clients 1,4,8] [--workers 1,2]
Prints a Markdown section for docs/BENCHMARKS.md.  Run scripts/setup.sh first.
"""
import argparse
import asyncio
import datetime
import os
import struct
import subprocess
import sys
import tempfile
import time

import machine
from offload_link import HEIGHT, WIDTH, make_camera_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import edge_client as ec  # noqa: E402
import websockets  # noqa: E402

TOOL = os.path.join(ROOT, "build", "bench", "yoloswitch-encode-bench")
CANNED_FRAMES = 300


def canned_packets(tmp):
    raw = os.path.join(tmp, "camera.i420")
    dump = os.path.join(tmp, "packets.bin")
    make_camera_file(raw, CANNED_FRAMES)
    subprocess.run([TOOL, raw, str(WIDTH), str(HEIGHT), str(CANNED_FRAMES), "1000000", "h264",
                    str(WIDTH), str(HEIGHT), dump], check=True, capture_output=True)
    packets = []
    with open(dump, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        size, key = struct.unpack_from("<IB", data, at)
        at += 5
        packets.append((data[at:at + size], bool(key)))
        at += size
    assert len(packets) == CANNED_FRAMES and packets[0][1], "first packet must be a keyframe"
    return packets


async def client(url, packets, counts, index, stop):
    """Sends frames in a loop, keeping the server's queue depth in flight;
    counts RESULTs and DROPs while `stop` is not set."""
    async with websockets.connect(url, subprotocols=[ec.SUBPROTOCOL], max_size=None) as ws:
        await ws.send(ec.hello(f"load-{index}", codecs=(ec.H264,)))
        hello = ec.parse(await ws.recv())
        window = max(1, hello["queue_depth"])
        in_flight = 0
        frame_id = 0
        slot = asyncio.Condition()

        async def receive():
            nonlocal in_flight
            async for data in ws:
                m = ec.parse(data)
                if m["type"] in (ec.RESULT, ec.DROP):
                    if not stop.is_set():
                        if m["type"] == ec.RESULT:
                            counts[index]["results"] += 1
                        else:
                            counts[index]["drops"] += 1
                            reason = m["reason"]
                            counts[index][reason] = counts[index].get(reason, 0) + 1
                    async with slot:
                        in_flight -= 1
                        slot.notify()

        receiver = asyncio.create_task(receive())
        while not stop.is_set():
            async with slot:
                await slot.wait_for(lambda: in_flight < window or stop.is_set())
                if stop.is_set():
                    break
                in_flight += 1
            packet, key = packets[frame_id % len(packets)]
            frame_id += 1
            await ws.send(ec.frame(frame_id, ec.H264, WIDTH, HEIGHT, packet, keyframe=key,
                                   capture_us=int(time.monotonic() * 1e6)))
        receiver.cancel()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url, pid, packets, clients, warmup, seconds):
    counts = [{"results": 0, "drops": 0} for _ in range(clients)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client(url, packets, counts, i, stop)) for i in range(clients)]
    await asyncio.sleep(warmup)
    for c in counts:
        c.clear()
        c["results"] = c["drops"] = 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    snapshot = [dict(c) for c in counts]
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    results = sum(c["results"] for c in snapshot)
    per_client = [c["results"] / (t1 - t0) for c in snapshot]
    return {
        "fps": results / (t1 - t0),
        "cpu_ms": (cpu1 - cpu0) * 1e3 / max(results, 1),
        "cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "drops": sum(c["drops"] for c in snapshot),
        "drop_reasons": ", ".join(
            f"{reason} {sum(c.get(reason, 0) for c in snapshot)}"
            for reason in sorted({k for c in snapshot for k in c} - {"results", "drops"})),
        "min_client": min(per_client),
        "max_client": max(per_client),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        packets = canned_packets(tmp)
        mean_bytes = sum(len(p) for p, _ in packets) / len(packets)
        for workers in [int(w) for w in args.workers.split(",")]:
            for clients in [int(c) for c in args.clients.split(",")]:
                with ec.EdgeServer("--workers", str(workers)) as server:
                    r = asyncio.run(measure(server.url, server.proc.pid, packets, clients,
                                            args.warmup, args.seconds))
                print(f"workers {workers}, clients {clients}: {r}", file=sys.stderr)
                rows.append((workers, clients, r))

    print(f"### Edge server under load ({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}; server and clients share it. Command: "
          f"`bench/edge_load.py --seconds {args.seconds:g} --clients {args.clients} "
          f"--workers {args.workers}`. yoloswitch-edge with its defaults (yolo-fastest-1.1-xl, "
          f"fast engine, queue depth 4, threads = cores / workers) on loopback; each client "
          f"replays {CANNED_FRAMES} canned 640x480 H.264 frames (1 Mbit/s, "
          f"{mean_bytes:.0f} B/frame on average) with the queue depth in flight. Counted "
          f"over {args.seconds:g} s after {args.warmup:g} s of warm-up. CPU is the server "
          f"process's user + system time per result.\n")
    print("| workers | clients | results/s | per client min / max | server CPU ms/frame "
          "| server CPU (cores) | drops |")
    print("|---|---|---|---|---|---|---|")
    for workers, clients, r in rows:
        print(f"| {workers} | {clients} | {r['fps']:.1f} | {r['min_client']:.1f} / "
              f"{r['max_client']:.1f} | {r['cpu_ms']:.1f} | {r['cpu_share']:.2f} | "
              f"{r['drops']}{' (' + r['drop_reasons'] + ')' if r['drops'] else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
