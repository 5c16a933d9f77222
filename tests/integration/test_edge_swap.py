#!/usr/bin/python3
"""The edge server swapping its model while serving (issue 16, hot swap on
the edge; docs/MODELS.md "Hot swap on the edge"): the real yoloswitch-edge
on loopback, driven by a client speaking docs/PROTOCOL.md.  A new version
of its --model put in --model-dir (yolo-fastest-1.1 replaced by
yolo-fastest-1.1-xl, with a names file that calls class 16 "hound") and
SIGHUP: the connection stays, a HELLO announces the new model, every frame
gets its one answer, the RESULTs before it are the old model's boxes and
labels and those after it the new one's; a client sending frames as fast
as they are answered never gets a box whose label is not its last HELLO's;
a names file changed alone is a new version; a split client's frame cut
from the old model is DROP model-changed, its connection kept.  A new
version that does not load leaves the old one serving; the same files
again change nothing; /metrics counts each."""
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

TOOL = os.environ.get("YOLOSWITCH_SPLIT_PACKET",
                      os.path.join(ec.ROOT, "build", "tests", "integration",
                                   "yoloswitch-split-packet"))
# Generous: a loaded 2-core board under qemu runs the bigger model too, and
# a DROP deadline is not what these tests look at.
DEADLINE_MS = 60000

MODELS = os.path.join(ec.SHARED, "models")
DOG = "/usr/share/darknet/data/dog.jpg"
DOG_SIZE = (768, 576)
# ../shared/models/README.md: the dog on dog.jpg (x, y, w, h) per model.
OLD_DOG = (122, 222, 243, 295)  # yolo-fastest-1.1
NEW_DOG = (114, 189, 272, 347)  # yolo-fastest-1.1-xl
NEW_HASH = 0xc659994e11139ce0  # yolo-fastest-1.1-xl (tests/unit/test_split_codec.c)


def coco():
    with open(os.path.join(MODELS, "coco.names")) as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def renamed():
    labels = coco()
    labels[16] = "hound"
    return labels


def put(folder, name, text=None, link=None):
    """Replaces folder/name at once (a new version lands whole): a link to
    `link`, or a file with `text`."""
    tmp = os.path.join(folder, "." + name + ".new")
    if link is not None:
        os.symlink(link, tmp)
    else:
        with open(tmp, "w") as f:
            f.write(text)
    os.replace(tmp, os.path.join(folder, name))


def best_iou(result, label, box):
    w, h = DOG_SIZE
    return max((ec.iou((d["x"] * w, d["y"] * h, d["w"] * w, d["h"] * h), box)
                for d in result["detections"] if d["label"] == label),
               default=0.0)


class EdgeSwapTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="edge-swap-")
        put(self.folder, "served.cfg",
            link=os.path.join(MODELS, "yolo-fastest-1.1.cfg"))
        put(self.folder, "served.weights",
            link=os.path.join(MODELS, "yolo-fastest-1.1.weights"))
        put(self.folder, "served.names", text="\n".join(coco()) + "\n")
        self.server = ec.EdgeServer("--model", "served", "--model-dir",
                                    self.folder, "--workers", "2",
                                    "--queue-depth", "4")
        with open(DOG, "rb") as f:
            self.jpeg = f.read()

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.folder)

    def new_version(self):
        put(self.folder, "served.cfg",
            link=os.path.join(MODELS, "yolo-fastest-1.1-xl.cfg"))
        put(self.folder, "served.weights",
            link=os.path.join(MODELS, "yolo-fastest-1.1-xl.weights"))
        put(self.folder, "served.names", text="\n".join(renamed()) + "\n")

    def reload(self):
        self.server.proc.send_signal(signal.SIGHUP)

    def metric(self, series):
        return ec.metrics(self.server.port).get(series, 0)

    def wait_metric(self, series, value):
        ec.wait_for(lambda: self.metric(series) >= value, timeout=120)
        self.assertEqual(self.metric(series), value)

    async def connect(self, codecs=(ec.H264, ec.MJPEG)):
        ws = await websockets.connect(self.server.url,
                                      subprotocols=[ec.SUBPROTOCOL],
                                      max_size=None, ping_interval=None)
        await ws.send(ec.hello("swap-test", model="served", codecs=codecs,
                               deadline_ms=DEADLINE_MS))
        hello = ec.parse(await asyncio.wait_for(ws.recv(), 60))
        self.assertEqual(hello["type"], ec.HELLO, hello)
        return ws, hello

    async def one_frame(self, ws, frame_id):
        """Sends dog.jpg; returns (answer, HELLOs that came before it)."""
        await ws.send(ec.frame(frame_id, ec.MJPEG, *DOG_SIZE, self.jpeg))
        hellos = []
        while True:
            m = ec.parse(await asyncio.wait_for(ws.recv(), 60))
            self.assertNotEqual(m["type"], ec.ERROR, m)
            if m["type"] == ec.HELLO:
                hellos.append(m)
            elif m["type"] in (ec.RESULT, ec.DROP):
                self.assertEqual(m["frame_id"], frame_id, m)
                return m, hellos

    def test_swap_keeps_the_connection(self):
        async def go():
            ws, hello = await self.connect()
            self.assertEqual(hello["model"], "served")
            self.assertEqual(hello["labels"][16], "dog")
            old_hash = hello["model_hash"]
            self.assertNotEqual(old_hash, NEW_HASH)
            for i in range(1, 4):
                r, hellos = await self.one_frame(ws, i)
                self.assertEqual(hellos, [])
                self.assertEqual(r["type"], ec.RESULT, r)
                self.assertGreater(best_iou(r, "dog", OLD_DOG), 0.9, r)
            self.new_version()
            self.reload()
            announced, frame_id, deadline = None, 4, time.monotonic() + 120
            while announced is None:
                self.assertLess(time.monotonic(), deadline, "no HELLO")
                r, hellos = await self.one_frame(ws, frame_id)
                frame_id += 1
                if hellos:
                    announced = hellos[-1]
                    # Its answer came after the HELLO: the new model's, or
                    # DROP model-changed for an old model's result.
                    if r["type"] == ec.DROP:
                        self.assertEqual(r["reason"], "model-changed", r)
                    else:
                        self.assertGreater(best_iou(r, "hound", NEW_DOG), 0.9,
                                           r)
                elif r["type"] == ec.RESULT:
                    self.assertGreater(best_iou(r, "dog", OLD_DOG), 0.9, r)
            self.assertEqual(announced["model_hash"], NEW_HASH)
            self.assertEqual(announced["labels"], renamed())
            self.assertEqual((announced["net_width"], announced["net_height"]),
                             (320, 320))
            for i in range(frame_id, frame_id + 3):
                r, hellos = await self.one_frame(ws, i)
                self.assertEqual(hellos, [])
                self.assertEqual(r["type"], ec.RESULT, r)
                self.assertGreater(best_iou(r, "hound", NEW_DOG), 0.9, r)
                self.assertFalse([d for d in r["detections"]
                                  if d["label"] == "dog"], r)
            await ws.close()

        asyncio.run(asyncio.wait_for(go(), 600))
        self.assertEqual(self.metric(
            'yoloswitch_edge_model_swaps_total{result="swapped"}'), 1)
        self.assertEqual(self.metric("yoloswitch_edge_model_generation"), 2)
        self.assertGreater(self.metric(
            "yoloswitch_edge_model_load_microseconds"), 0)
        self.assertIn("took over", self.server.stderr())
        self.assertEqual(self.metric(
            'yoloswitch_edge_errors_total{code="mismatch"}'), 0)

    def test_labels_always_those_last_announced(self):
        """Frames as fast as answers come (4 in flight) across a swap:
        every frame one answer, every box's label the last HELLO's."""
        async def go():
            ws, hello = await self.connect()
            labels = hello["labels"]
            answered, hellos, sent = {}, 0, 0
            swap_at, stop_at = 20, None

            async def receive():
                nonlocal labels, hellos
                while stop_at is None or len(answered) < stop_at:
                    m = ec.parse(await asyncio.wait_for(ws.recv(), 60))
                    self.assertNotEqual(m["type"], ec.ERROR, m)
                    if m["type"] == ec.HELLO:
                        labels, hellos = m["labels"], hellos + 1
                    elif m["type"] in (ec.RESULT, ec.DROP):
                        self.assertNotIn(m["frame_id"], answered)
                        answered[m["frame_id"]] = m
                        for d in m.get("detections", []):
                            self.assertEqual(d["label"],
                                             labels[d["class_id"]], d)

            receiver = asyncio.ensure_future(receive())
            while hellos == 0 or sent < swap_at + 40:
                self.assertLess(sent, 2000, "no HELLO after the reload")
                if sent - len(answered) < 4:
                    sent += 1
                    await ws.send(ec.frame(sent, ec.MJPEG, *DOG_SIZE,
                                           self.jpeg))
                    if sent == swap_at:
                        self.new_version()
                        self.reload()
                else:
                    await asyncio.sleep(0.005)
                if receiver.done():
                    receiver.result()  # raises what failed
            stop_at = sent
            await asyncio.wait_for(receiver, 120)
            await ws.close()
            return sent, answered, hellos, labels

        sent, answered, hellos, labels = asyncio.run(
            asyncio.wait_for(go(), 600))
        self.assertEqual(sorted(answered), list(range(1, sent + 1)))
        self.assertEqual(hellos, 1)
        self.assertEqual(labels, renamed())
        reasons = {m.get("reason") for m in answered.values()
                   if m["type"] == ec.DROP}
        self.assertLessEqual(reasons, {"model-changed", "overload",
                                       "deadline"}, reasons)
        last = answered[sent]
        self.assertEqual(last["type"], ec.RESULT, last)
        self.assertGreater(best_iou(last, "hound", NEW_DOG), 0.9, last)

    def test_labels_changed_alone_are_a_new_version(self):
        """The same cfg and weights (the same hash) with a names file that
        renames class 16: swapped, not "unchanged"; the HELLO lists it."""
        async def go():
            ws, hello = await self.connect()
            put(self.folder, "served.names", text="\n".join(renamed()) + "\n")
            self.reload()
            announced, frame_id = None, 1
            while announced is None and frame_id < 2000:
                r, hellos = await self.one_frame(ws, frame_id)
                frame_id += 1
                announced = hellos[-1] if hellos else None
            self.assertIsNotNone(announced, "no HELLO")
            self.assertEqual(announced["model_hash"], hello["model_hash"])
            self.assertEqual(announced["labels"], renamed())
            r, _ = await self.one_frame(ws, frame_id)
            self.assertGreater(best_iou(r, "hound", OLD_DOG), 0.9, r)
            await ws.close()

        asyncio.run(asyncio.wait_for(go(), 600))
        self.assertEqual(self.metric(
            'yoloswitch_edge_model_swaps_total{result="swapped"}'), 1)
        self.assertEqual(self.metric(
            'yoloswitch_edge_model_swaps_total{result="unchanged"}'), 0)

    def test_split_frame_of_the_old_model(self):
        """A split client (the head of yolo-fastest-1.1 run on dog.jpg at cut
        4) whose next frame, cut from the old model, reaches the server
        after the swap: ACK, the HELLO with the new hash, DROP
        model-changed; no ERROR, and the connection answers a PING."""
        with tempfile.NamedTemporaryFile(suffix=".split") as out:
            done = subprocess.run([TOOL, "yolo-fastest-1.1", "dog.jpg", "4",
                                   out.name, "8"], capture_output=True,
                                  text=True, timeout=300)
            self.assertEqual(done.returncode, 0, done.stderr)
            with open(out.name, "rb") as f:
                packet = f.read()

        async def go():
            ws, hello = await self.connect(codecs=(ec.TENSOR,))
            await ws.send(ec.frame(1, ec.TENSOR, *DOG_SIZE, packet))
            got = [ec.parse(await asyncio.wait_for(ws.recv(), 120))
                   for _ in range(2)]
            self.assertEqual([m["type"] for m in got], [ec.ACK, ec.RESULT], got)
            self.assertGreater(best_iou(got[1], "dog", OLD_DOG), 0.9, got[1])
            self.new_version()
            self.reload()
            self.wait_metric(
                'yoloswitch_edge_model_swaps_total{result="swapped"}', 1)
            await ws.send(ec.frame(2, ec.TENSOR, *DOG_SIZE, packet))
            got = [ec.parse(await asyncio.wait_for(ws.recv(), 120))
                   for _ in range(3)]
            by_type = {m["type"]: m for m in got}
            self.assertEqual(sorted(by_type), sorted([ec.ACK, ec.HELLO,
                                                      ec.DROP]), got)
            self.assertEqual(by_type[ec.HELLO]["model_hash"], NEW_HASH)
            self.assertEqual(by_type[ec.DROP]["frame_id"], 2)
            self.assertEqual(by_type[ec.DROP]["reason"], "model-changed")
            await ws.send(ec.message(ec.PING, frame_id=3))
            pong = ec.parse(await asyncio.wait_for(ws.recv(), 60))
            self.assertEqual((pong["type"], pong["frame_id"]), (ec.PONG, 3))
            await ws.close()

        asyncio.run(asyncio.wait_for(go(), 600))
        self.assertEqual(self.metric(
            'yoloswitch_edge_errors_total{code="mismatch"}'), 0)

    def test_failed_and_unchanged_reloads(self):
        """A new version that does not load (truncated weights): the old
        model serves on, no HELLO; the same files again: nothing to do."""
        async def go():
            ws, _ = await self.connect()
            put(self.folder, "served.weights", text="\0" * 24)
            self.reload()
            self.wait_metric(
                'yoloswitch_edge_model_swaps_total{result="failed"}', 1)
            r, hellos = await self.one_frame(ws, 1)
            self.assertEqual(hellos, [])
            self.assertGreater(best_iou(r, "dog", OLD_DOG), 0.9, r)
            put(self.folder, "served.weights",
                link=os.path.join(MODELS, "yolo-fastest-1.1.weights"))
            self.reload()
            self.wait_metric(
                'yoloswitch_edge_model_swaps_total{result="unchanged"}', 1)
            r, hellos = await self.one_frame(ws, 2)
            self.assertEqual(hellos, [])
            self.assertGreater(best_iou(r, "dog", OLD_DOG), 0.9, r)
            await ws.close()

        asyncio.run(asyncio.wait_for(go(), 600))
        log = self.server.stderr()
        self.assertIn("model reload failed", log)
        self.assertIn("truncated", log)
        self.assertIn("serves on", log)
        self.assertEqual(self.metric("yoloswitch_edge_model_generation"), 1)
        self.assertEqual(self.metric(
            'yoloswitch_edge_model_swaps_total{result="swapped"}'), 0)


class PipelineAcrossSwapTest(unittest.TestCase):
    """yolooffload in a real gst-launch-1.0 pipeline (vtest.avi at its 10
    frames/s, sync delivery, the default on-missing-result=error) while the
    server swaps to a new version with the same classes: the element says
    the server swapped its model, never that it lost it; stopped (EOS) 20
    frames after the swap, the job ends normally with every frame's own
    result."""

    def test_every_frame_has_its_result(self):
        folder = tempfile.mkdtemp(prefix="edge-swap-")
        out = os.path.join(folder, "out.jsonl")
        for ext in ("cfg", "weights"):
            put(folder, f"served.{ext}",
                link=os.path.join(MODELS, f"yolo-fastest-1.1.{ext}"))
        put(folder, "served.names", text="\n".join(coco()) + "\n")
        server = ec.EdgeServer("--model", "served", "--model-dir", folder)
        pipeline = subprocess.Popen(
            ["gst-launch-1.0", "-e", "-m", *ec.head(6000, realtime=True),
             "yolooffload", f"server={server.url}", "mode=sync",
             f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}", "!", "yolojson",
             f"location={out}", "!", "fakesink"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        series = 'yoloswitch_edge_model_swaps_total{result="swapped"}'
        try:
            def ok(f):
                return any(r["source"] == "edge" and r["status"] == "ok"
                           for r in f.get("results", []))
            self.assertTrue(ec.wait_for_frames(out, ok, 30, pipeline))
            for ext in ("cfg", "weights"):
                put(folder, f"served.{ext}",
                    link=os.path.join(MODELS, f"yolo-fastest-1.1-xl.{ext}"))
            server.proc.send_signal(signal.SIGHUP)
            self.assertTrue(ec.wait_for(
                lambda: ec.metrics(server.port).get(series) == 1,
                timeout=300), server.stderr())
            seen = len(ec.read_jsonl(out))
            self.assertTrue(ec.wait_for_frames(out, ok, seen + 20, pipeline))
            pipeline.send_signal(signal.SIGINT)  # -e: EOS, then exit
            output, _ = pipeline.communicate(timeout=300)
            log = server.stderr()
        finally:
            if pipeline.poll() is None:
                pipeline.kill()
            server.stop()
        frames = ec.read_jsonl(out)
        shutil.rmtree(folder)
        self.assertEqual(pipeline.returncode, 0, output[-3000:])
        self.assertIn("took over", log)
        self.assertIn("swapped its model", output)
        self.assertNotIn("lost edge server", output)
        self.assertGreater(len(frames), seen)
        self.assertEqual([f["frame"] for f in frames],
                         list(range(len(frames))))
        for f in frames:
            edge = [r for r in f["results"] if r["source"] == "edge"
                    and r["status"] != "superseded"]
            self.assertEqual(len(edge), 1, f)
            self.assertEqual(edge[0]["status"], "ok", f)
            self.assertEqual(edge[0]["result_frame_id"], edge[0]["frame_id"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
