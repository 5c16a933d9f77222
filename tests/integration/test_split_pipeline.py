#!/usr/bin/python3
"""yolosplit (issue 15) in real gst-launch-1.0 pipelines: against the real
yoloswitch-edge on loopback its boxes are the unsplit edge model's (run by
yolodetect on the same frames), every box says source split and the cut,
and no pixel ever goes on the wire (a server written from docs/PROTOCOL.md
records each FRAME's codec)."""
import asyncio
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

EDGE_MODEL = "yolo-fastest-1.1-xl"
FRAMES = 30
DEFAULT_CUT = 61  # yolo-fastest-1.1-xl's smallest handover (docs/SPLIT.md)
TOOL = os.environ.get("YOLOSWITCH_SPLIT_PACKET",
                      os.path.join(ec.ROOT, "build", "tests", "integration",
                                   "yoloswitch-split-packet"))


def model_hash():
    """The edge model's hash as the device computes it (the packet tool)."""
    with tempfile.NamedTemporaryFile(suffix=".split") as out:
        done = subprocess.run([TOOL, EDGE_MODEL, "dog.jpg", "61", out.name],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return int(json.loads(done.stdout)["hash"], 16)


class RecordingServer:
    """A split-capable server from docs/PROTOCOL.md: its HELLO lists codec
    16 and the edge model's hash; it records every FRAME's codec and
    answers each with ACK and an empty RESULT.  Its own thread's loop."""

    def __init__(self, hash_value):
        self.hash = hash_value
        self.codecs = []
        self.packet_flags = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(websockets.serve(
                self.handle, "127.0.0.1", 0, subprotocols=[ec.SUBPROTOCOL],
                max_size=None, ping_interval=None))
            port = self.server.sockets[0].getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}/"
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not started.wait(30):
            raise AssertionError("recording server did not start")

    async def handle(self, ws, path=None):
        try:
            async for data in ws:
                (_, _, msg_type, _, _, frame_id, config_id, capture_us,
                 length) = ec.HEADER.unpack_from(data)
                if msg_type == ec.HELLO:
                    await ws.send(ec.message(
                        ec.HELLO, ec.string("recorder") + ec.string("")
                        + ec.string(EDGE_MODEL) + bytes([1, ec.TENSOR])
                        + struct.pack("<HHIHH", 320, 320, 0, 8, 1)
                        + ec.label_list([]) + struct.pack("<Q", self.hash),
                        flags=ec.FLAG_SERVER))
                elif msg_type == ec.PING:
                    await ws.send(ec.message(ec.PONG, frame_id=frame_id,
                                             config_id=config_id,
                                             capture_us=capture_us))
                elif msg_type == ec.FRAME:
                    codec = data[ec.HEADER.size]
                    self.codecs.append(codec)
                    # the packet's flags byte (after the FRAME's 9 bytes)
                    self.packet_flags.append(data[ec.HEADER.size + 9 + 2])
                    width, height = struct.unpack_from(
                        "<HH", data, ec.HEADER.size + 1)
                    await ws.send(ec.message(
                        ec.ACK, struct.pack("<IQIH", length, 0, 0, 0),
                        frame_id=frame_id, config_id=config_id,
                        capture_us=capture_us))
                    await ws.send(ec.message(
                        ec.RESULT, struct.pack("<III", 1, 1, 1)
                        + ec.string(EDGE_MODEL)
                        + struct.pack("<HHH", width, height, 0),
                        frame_id=frame_id, config_id=config_id,
                        capture_us=capture_us))
        except websockets.ConnectionClosed:
            pass

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def boxes(frame, source):
    return [d for d in frame["detections"] if d["source"] == source]


def iou(a, b):
    return ec.iou((a["x"], a["y"], a["w"], a["h"]),
                  (b["x"], b["y"], b["w"], b["h"]))


class SplitPipeline(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def launch(self, *pipeline, expect=0, timeout=900):
        proc = subprocess.run(["gst-launch-1.0", "-e", *pipeline],
                              capture_output=True, text=True, timeout=timeout)
        if expect == 0:
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        else:
            self.assertNotEqual(proc.returncode, 0, proc.stdout)
        return proc

    def test_boxes_are_the_unsplit_edge_models(self):
        """30 frames through yolosplit (sync) and through yolodetect running
        the same edge model whole: every frame answered, on its own frame;
        each box says split and the cut; at least 95 % of the unsplit
        boxes at >= 0.5 have a split box of their class at IoU >= 0.9."""
        split, whole = self.path("split.jsonl"), self.path("whole.jsonl")
        with ec.EdgeServer() as server:
            proc = self.launch(
                "-m", *ec.head(FRAMES), "yolosplit", f"server={server.url}",
                "mode=sync", f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}",
                "stats-interval-ms=60000", "!", "yolojson",
                f"location={split}", "!", "fakesink")
        self.launch(*ec.head(FRAMES), "yolodetect", f"model={EDGE_MODEL}",
                    "!", "yolojson", f"location={whole}", "!", "fakesink")
        stats = ec.last_stats(proc.stdout)
        self.assertEqual(int(stats["frames-sent"]), FRAMES)
        self.assertEqual(int(stats["frames-without-result"]), 0)
        self.assertEqual(stats["encoder"], "split")
        got, want = ec.read_jsonl(split), ec.read_jsonl(whole)
        self.assertEqual([f["frame"] for f in got], list(range(FRAMES)))
        matched = total = 0
        for g, w in zip(got, want):
            results = [r for r in g["results"] if r["source"] == "split"]
            self.assertEqual(len(results), 1, g)
            self.assertEqual(results[0]["status"], "ok", g)
            self.assertEqual(results[0]["cut"], DEFAULT_CUT)
            for d in boxes(g, "split"):
                self.assertEqual(d["cut"], DEFAULT_CUT)
                self.assertEqual(d["model"], EDGE_MODEL)
                self.assertEqual(d["frame_pts"], g["pts"])
            for d in boxes(w, "local"):
                if d["confidence"] < 0.5:
                    continue
                total += 1
                matched += any(
                    s["class_id"] == d["class_id"] and iou(s, d) >= 0.9
                    for s in boxes(g, "split"))
        self.assertGreaterEqual(total, FRAMES)  # people in every frame
        self.assertGreaterEqual(matched, 0.95 * total, (matched, total))

    def test_no_pixel_on_the_wire(self):
        """Every FRAME yolosplit sends is a split frame (codec 16), and to
        this server, whose HELLO does not list codec 17, a plain packet
        (no ZSTD flag, 4)."""
        server = RecordingServer(model_hash())
        try:
            self.launch(*ec.head(20), "yolosplit", f"server={server.url}",
                        "mode=sync",
                        f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}", "!",
                        "fakesink")
        finally:
            server.stop()
        self.assertEqual(len(server.codecs), 20)
        self.assertEqual(set(server.codecs), {ec.TENSOR})
        self.assertEqual([f & 4 for f in server.packet_flags], [0] * 20)

    def test_missing_model_fails_at_start(self):
        proc = self.launch(*ec.head(5), "yolosplit", "server=ws://127.0.0.1:9/",
                           "model=no-such-model", "!", "fakesink", expect=1)
        self.assertIn("no-such-model", proc.stdout + proc.stderr)

    def test_bad_bits_fail_at_start(self):
        proc = self.launch(*ec.head(5), "yolosplit", "server=ws://127.0.0.1:9/",
                           "bits=5", "!", "fakesink", expect=1)
        self.assertIn("4, 6 or 8", proc.stdout + proc.stderr)

    def test_cut_outside_the_model_fails_at_start(self):
        proc = self.launch(*ec.head(5), "yolosplit", "server=ws://127.0.0.1:9/",
                           "cut=5000", "!", "fakesink", expect=1)
        self.assertIn("cut", proc.stdout + proc.stderr)
        self.assertIn("1 to 130", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
