#!/usr/bin/python3
"""yolooffload in real gst-launch-1.0 pipelines against the real
yoloswitch-edge binary on loopback: results on the right frames, every frame
accounted for when the server dies, results back when it returns."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

def edge_result(frame):
    """The frame's edge record: its result, the newest one, or why none.
    (Results a newer one replaced within the frame interval are recorded
    too, as "superseded".)"""
    results = [r for r in frame.get("results", [])
               if r["source"] == "edge" and r["status"] != "superseded"]
    assert len(results) == 1, frame
    return results[0]


class OffloadPipeline(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.out = os.path.join(self.tmp.name, "edge.jsonl")

    def launch(self, *pipeline, timeout=600):
        proc = subprocess.run(["gst-launch-1.0", "-e", *pipeline],
                              capture_output=True, text=True, timeout=timeout)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc

    def test_sync_results_on_their_own_frames(self):
        """100 frames as fast as they decode, mode=sync with a budget no
        loaded machine reaches: 100 lines in order, each with the edge
        result computed on that very frame, people found."""
        with ec.EdgeServer() as server:
            proc = self.launch("-m", *ec.head(100), "yolooffload",
                               f"server={server.url}", "mode=sync",
                               f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}",
                               "stats-interval-ms=60000", "!", "yolojson",
                               f"location={self.out}", "!", "fakesink")
        frames = ec.read_jsonl(self.out)
        # With a minute between periodic messages, the one seen is the
        # totals message posted at EOS, after every held frame.
        stats = ec.last_stats(proc.stdout)
        self.assertEqual([f["frame"] for f in frames], list(range(100)))
        with_person = 0
        ids = []
        not_own = []
        for f in frames:
            r = edge_result(f)
            ids.append(r["frame_id"])
            if r["status"] == "ok" and r["result_frame_id"] == r["frame_id"]:
                self.assertEqual(r["frame_pts"], f["pts"])
                # Capture to RESULT, so it includes the server's work.
                self.assertGreater(r["latency_ms"], 0)
            else:
                not_own.append((f["frame"], r["status"], r.get("reason")))
            labels = {d["label"] for d in f["detections"]}
            with_person += "person" in labels
            for d in f["detections"]:
                self.assertEqual(d["source"], "edge")
                self.assertEqual(d["model"], "yolo-fastest-1.1-xl")
                self.assertEqual(d["frame_pts"], f["pts"])
        # Nothing may take a frame's result within that budget: a miss is
        # a frame lost or a result on the wrong frame (frame, status, why).
        self.assertEqual(not_own, [])
        self.assertEqual(int(stats["frames-sent"]), 100)
        self.assertGreaterEqual(int(stats["results"]), 100)
        self.assertEqual(int(stats["frames-without-result"]), 0)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 100)
        self.assertGreaterEqual(with_person, 80)

    def test_delaying_encoder_loses_no_frame(self):
        """An encoder that holds frames back (x264 with an 8-frame
        lookahead, through encoder-options), mode=sync: all 40 frames come
        out in order, each with the result computed on that very frame.
        The last 8 leave the encoder only when EOS drains it, so without
        the drain they would end "deadline"."""
        with ec.EdgeServer() as server:
            self.launch(*ec.head(40), "yolooffload", f"server={server.url}",
                        "mode=sync", "encoder-options=x264-params=rc-lookahead=8",
                        f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}",
                        # more in flight than the encoder holds, so frames
                        # keep going in while it holds 8
                        "max-in-flight=16", "!", "yolojson",
                        f"location={self.out}", "!", "fakesink")
        frames = ec.read_jsonl(self.out)
        self.assertEqual([f["frame"] for f in frames], list(range(40)))
        ids = []
        for f in frames:
            r = edge_result(f)
            self.assertEqual(r["status"], "ok", (f["frame"], r))
            self.assertEqual(r["result_frame_id"], r["frame_id"])
            self.assertEqual(r["frame_pts"], f["pts"])
            ids.append(r["frame_id"])
        self.assertEqual(ids, list(range(ids[0], ids[0] + 40)))

    def test_unknown_encoder_option_fails_at_start(self):
        """An option the encoder does not have stops the pipeline at start
        with a sentence naming it."""
        with ec.EdgeServer() as server:
            proc = subprocess.run(
                ["gst-launch-1.0", *ec.head(5), "yolooffload",
                 f"server={server.url}", "encoder-options=no-such-option=1",
                 "!", "fakesink"],
                capture_output=True, text=True, timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no-such-option", proc.stdout + proc.stderr)

    def test_async_never_waits_and_says_which_frame(self):
        """mode=async: every frame passes; until the first result comes a
        frame says so, from then on each carries the newest result, naming
        an earlier (or the same) frame and its age in stream time."""
        with ec.EdgeServer() as server:
            self.launch(*ec.head(60, realtime=True), "yolooffload",
                        f"server={server.url}", "mode=async", "!", "yolojson",
                        f"location={self.out}", "!", "fakesink")
        frames = ec.read_jsonl(self.out)
        self.assertEqual([f["frame"] for f in frames], list(range(60)))
        status = [(edge_result(f)["status"], edge_result(f).get("reason"))
                  for f in frames]
        shape = [s for s, _ in ec.runs(status)]
        self.assertIn(shape, ([("ok", None)],
                              [("none", "no-result-yet"), ("ok", None)]),
                      ec.runs(status))
        seen = set()
        newest_pts = -1
        for f in frames:
            r = edge_result(f)
            if r["status"] != "ok":
                continue
            seen.add(r["result_frame_id"])
            # A frame the full pipeline did not take has no id of its
            # own; it still carries the newest result.
            if "frame_id" in r:
                self.assertLessEqual(r["result_frame_id"], r["frame_id"])
            self.assertLessEqual(r["frame_pts"], f["pts"])
            self.assertGreaterEqual(r["frame_pts"], newest_pts, "went back")
            newest_pts = r["frame_pts"]
            self.assertAlmostEqual(r["age_ms"],
                                   (f["pts"] - r["frame_pts"]) / 1e6,
                                   places=0)
        # Results keep coming (not one result carried on), and the first
        # is there well before the end: 3 s of stream for a connection and
        # one round trip, a wide margin on a loaded machine.
        self.assertGreater(len(seen), 10, sorted(seen))
        self.assertGreaterEqual(status.count(("ok", None)), 30,
                                ec.runs(status))

    def test_server_killed_and_restarted(self):
        """The server dies mid-stream (SIGKILL) and comes back on the same
        port: the pipeline never errors, all 150 frames come out, in order,
        each with its own result, or "disconnected" during the outage, and
        nothing else: results, outage, results again."""
        def ok(f):
            return edge_result(f)["status"] == "ok"

        def disconnected(f):
            return edge_result(f).get("reason") == "disconnected"

        port = ec.free_port()
        first = ec.EdgeServer(port=port)
        pipeline = subprocess.Popen(
            ["gst-launch-1.0", "-e", *ec.head(150, realtime=True), "yolooffload",
             f"server=ws://127.0.0.1:{port}/", "mode=sync",
             f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}", "!", "yolojson",
             f"location={self.out}", "!", "fakesink"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        second = None
        try:
            # Each step waits for what the frames show, not for a time.
            self.assertTrue(ec.wait_for_frames(self.out, ok, 20, pipeline))
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
            self.assertTrue(ec.wait_for_frames(self.out, disconnected, 10,
                                               pipeline))
            second = ec.EdgeServer(port=port)
            out, _ = pipeline.communicate(timeout=120)
        finally:
            if pipeline.poll() is None:
                pipeline.kill()
            first.stop()
            if second is not None:
                second.stop()
        self.assertEqual(pipeline.returncode, 0, out)
        self.assertIn("lost edge server", out)
        frames = ec.read_jsonl(self.out)
        self.assertEqual([f["frame"] for f in frames], list(range(150)))
        status = [(edge_result(f)["status"], edge_result(f).get("reason"))
                  for f in frames]
        runs = ec.runs(status)
        self.assertEqual([s for s, _ in runs],
                         [("ok", None), ("none", "disconnected"), ("ok", None)],
                         runs)
        # The server was back with a good part of the stream to go.
        self.assertGreaterEqual(runs[2][1], 20, runs)
        for f in frames:
            r = edge_result(f)
            if r["status"] == "ok":
                self.assertEqual(r["result_frame_id"], r["frame_id"])
                self.assertEqual(r["frame_pts"], f["pts"])
            else:
                self.assertEqual(f["detections"], [])
                self.assertEqual(r["age_ms"], 0.0)
                self.assertNotIn("latency_ms", r)

    def test_unreachable_server_is_not_an_error(self):
        """Nobody listens: every frame passes with no result, a warning
        says so, the pipeline ends normally."""
        port = ec.free_port()
        proc = self.launch(*ec.head(20), "yolooffload",
                           f"server=ws://127.0.0.1:{port}/",
                           "latency-budget-ms=200", "!", "yolojson",
                           f"location={self.out}", "!", "fakesink")
        self.assertIn("cannot reach edge server", proc.stdout + proc.stderr)
        frames = ec.read_jsonl(self.out)
        self.assertEqual(len(frames), 20)
        for f in frames:
            self.assertEqual((edge_result(f)["status"],
                              edge_result(f)["reason"]), ("none", "disconnected"))
            self.assertEqual(f["detections"], [])

    def test_wss_needs_the_certificate_trusted(self):
        """wss:// to a server with a self-signed certificate: with
        tls-ca-file naming it, each frame has its own result; without, no
        result on any frame, "disconnected", and a warning that says what
        to set."""
        cert, key = ec.self_signed_certificate(self.tmp.name)
        with ec.EdgeServer("--tls-cert", cert, "--tls-key", key) as server:
            self.assertTrue(server.url.startswith("wss://"), server.url)
            self.launch(*ec.head(20), "yolooffload", f"server={server.url}",
                        f"tls-ca-file={cert}", "mode=sync",
                        f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}", "!",
                        "yolojson", f"location={self.out}", "!", "fakesink")
            frames = ec.read_jsonl(self.out)
            self.assertEqual(len(frames), 20)
            own = [f for f in frames if edge_result(f)["status"] == "ok"
                   and edge_result(f)["result_frame_id"] == edge_result(f)["frame_id"]]
            self.assertEqual(len(own), 20, [edge_result(f) for f in frames])
            self.assertTrue(any(d["label"] == "person" for f in own for d in f["detections"]))

            proc = self.launch(*ec.head(10), "yolooffload", f"server={server.url}",
                               "mode=sync", "latency-budget-ms=300", "!", "yolojson",
                               f"location={self.out}", "!", "fakesink")
            self.assertIn("set tls-ca-file", proc.stdout + proc.stderr)
            frames = ec.read_jsonl(self.out)
            self.assertEqual(len(frames), 10)
            self.assertEqual({(edge_result(f)["status"], edge_result(f)["reason"])
                              for f in frames}, {("none", "disconnected")})

    def test_missing_server_property_fails_clearly(self):
        proc = subprocess.run(["gst-launch-1.0", *ec.head(5), "yolooffload",
                               "!", "fakesink"], capture_output=True,
                              text=True, timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("No edge server set", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
