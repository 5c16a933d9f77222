#!/usr/bin/python3
"""yoloswitch-edge's memory budget (--memory-budget-bytes, edge_budget.c)
against 63 hostile clients at the defaults: each sends a 1920x1080 H.264
stream with 16 reference frames (x264 ref=16), which without the budget
makes every decoder hold ~110 MB (63 of them: ~7 GB).  With it the server
grows by at most the budget plus what it keeps outside it (each worker's
buffers at the largest frame, the connections themselves), a camera that
connects meanwhile (the 64th client, --max-clients) still gets its RESULT,
and the counters say who was refused and closed.

The real binary on loopback; asserted are VmHWM from /proc, the camera's
answer and /metrics, never timing."""
import asyncio
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402
from h264_streams import h264_stream  # noqa: E402
from raw_ws import RawWs  # noqa: E402
from test_edge_hostile import one_dog, run, vm_kb  # noqa: E402

HOSTILE = 63  # and the camera: --max-clients (64)
PACKETS = 20  # IDR and P-frames: 16 references and the current picture
BUDGET_MB = 256  # --memory-budget-bytes' default
# Outside the budget: the worker's RGB and resizing buffers of a 1080p
# frame (~10 MB), 64 connections (lws, queues: ~0.3 MB each), allocator
# slack; measured 2026-12-01 (AMD EPYC): ~40 MB.
OUTSIDE_MB = 100
TMP = tempfile.TemporaryDirectory(prefix="edge-memory-")


async def camera(url, frames=100):
    """A camera that connects while the budget is full: dog frames one
    after the other, 0.2 s apart, until one gets a RESULT (its first may
    be refused while the server closes clients over their shares to make
    room)."""
    ws = await ec_connect(url)
    await ws.send(ec.hello("camera"))
    assert ec.parse(await asyncio.wait_for(ws.recv(), 60))["type"] == ec.HELLO
    with open(ec_dog(), "rb") as f:
        jpeg = f.read()
    answer = None
    for n in range(frames):
        await ws.send(ec.frame(1 + n, ec.MJPEG, 768, 576, jpeg,
                               deadline_ms=ec.GENEROUS_BUDGET_MS))
        while True:
            answer = ec.parse(await asyncio.wait_for(ws.recv(), 60))
            if answer["type"] in (ec.RESULT, ec.DROP):
                break
        if answer["type"] == ec.RESULT:
            break
        await asyncio.sleep(0.2)
    await ws.close()
    return answer


def ec_dog():
    return "/usr/share/darknet/data/dog.jpg"


async def ec_connect(url):
    import websockets
    return await websockets.connect(url, subprotocols=[ec.SUBPROTOCOL],
                                    max_size=None, ping_interval=None,
                                    local_addr=("127.0.0.3", 0))


class MemoryBudgetTest(unittest.TestCase):
    def test_hostile_decoders_stay_within_the_budget(self):
        stream = h264_stream(TMP.name, "ref16", [
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=10:duration=3"],
            "ref=16:bframes=0:keyint=250:scenecut=0", ["-map", "0:v"])
        self.assertGreaterEqual(len(stream), PACKETS)
        with ec.EdgeServer("--workers", "1") as server:
            pid = server.proc.pid
            # Warm: the model and one decoder, so "idle" is a served server.
            _, answer = run(one_dog(server.url, "127.0.0.2", token=""))
            self.assertEqual(answer["type"], ec.RESULT, answer)
            self.assertTrue(ec.wait_for(
                lambda: ec.metrics(server.port)["yoloswitch_edge_clients"] == 0))
            idle_mb = vm_kb(pid, "VmRSS") / 1024
            hostile = []
            for i in range(HOSTILE):  # --max-per-address is 16
                c = RawWs(server.port, f"127.0.4.{1 + i // 16}")
                self.assertEqual(c.status, 101)
                c.send(ec.hello(f"hostile-{i}"))
                self.assertEqual(c.recv_message()["type"], ec.HELLO)
                hostile.append(c)
            for n in range(PACKETS):
                for c in hostile:
                    pts, packet, key = stream[n]
                    try:
                        c.send(ec.frame(n + 1, ec.H264, 1920, 1080, packet,
                                        keyframe=key,
                                        deadline_ms=ec.GENEROUS_BUDGET_MS))
                    except OSError:
                        pass  # closed by the server: the budget at work
            # Until the server took it all in (every frame answered or its
            # sender closed), then the camera.
            self.assertTrue(ec.wait_for(
                lambda: ec.metrics(server.port)["yoloswitch_edge_queue_depth"] == 0,
                120))
            answer = run(camera(server.url))
            values = ec.metrics(server.port)
            peak_mb = vm_kb(pid, "VmHWM") / 1024
            log = server.stderr()
            for c in hostile:
                c.close()
        grown = peak_mb - idle_mb
        closed = values['yoloswitch_edge_closed_total{reason="memory-budget"}']
        print(f"\n  {HOSTILE} hostile 1080p ref=16 clients: RSS {idle_mb:.0f} MB "
              f"idle, VmHWM {peak_mb:.0f} MB (+{grown:.0f}); budget used "
              f"{values['yoloswitch_edge_memory_budget_used_bytes'] / 2**20:.0f} MiB, "
              f"{values['yoloswitch_edge_memory_budget_refused_total']:.0f} "
              f"refused, {closed:.0f} closed", file=sys.stderr)
        self.assertEqual(answer["type"], ec.RESULT, (answer, log[-3000:]))
        self.assertTrue(any(d["label"] == "dog" for d in answer["detections"]),
                        answer)
        self.assertLess(grown, BUDGET_MB + OUTSIDE_MB,
                        f"RSS {idle_mb:.0f} MB -> peak {peak_mb:.0f} MB")
        self.assertGreater(values["yoloswitch_edge_memory_budget_refused_total"], 0)
        self.assertEqual(values["yoloswitch_edge_memory_budget_bytes"],
                         BUDGET_MB * 2**20)
        self.assertIn("--memory-budget-bytes", log)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        TMP.cleanup()
