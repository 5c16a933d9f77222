#!/usr/bin/python3
"""Real gst-launch-1.0 pipelines on the sample video, checked frame by frame."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("YOLOSWITCH_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
VIDEO = os.path.join(SHARED, "data", "vtest.avi")


def gst_launch(*pipeline, timeout=900):
    """Runs gst-launch-1.0 and fails the test with its output if it fails."""
    proc = subprocess.run(["gst-launch-1.0", "-q", "-e", *pipeline],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"gst-launch-1.0 failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def first_frames(n):
    """Pipeline head giving exactly the first n decoded frames of vtest.avi.
    identity eos-after=K passes K-1 buffers.  It counts compressed frames:
    after a decoder, a multiqueue may push on after the EOS return and
    identity lets those strays through."""
    return ["filesrc", f"location={VIDEO}", "!", "parsebin", "!", "identity",
            f"eos-after={n + 1}", "!", "decodebin", "!"]


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class LocalPipeline(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_first_100_frames(self):
        """vtest.avi -> yolodetect -> yolojson: exactly 100 lines, contiguous
        frame numbers and pts, a person in at least 80 % of them."""
        out = os.path.join(self.tmp.name, "d.jsonl")
        gst_launch(*first_frames(100), "videoconvert", "!", "yolodetect", "!", "yolojson", f"location={out}", "!",
                   "fakesink")
        frames = read_jsonl(out)
        self.assertEqual(len(frames), 100)
        self.assertEqual([f["frame"] for f in frames], list(range(100)))
        # vtest.avi is 10 frames/s: no frame may be missing.
        self.assertEqual([f["pts"] for f in frames],
                         [i * 100_000_000 for i in range(100)])
        with_person = 0
        for f in frames:
            self.assertEqual((f["width"], f["height"]), (768, 576))
            labels = set()
            for d in f["detections"]:
                self.assertEqual(d["source"], "local")
                self.assertEqual(d["model"], "yolo-fastest-1.1")
                self.assertEqual(d["frame_pts"], f["pts"])
                self.assertEqual(d["age_ms"], 0.0)
                self.assertGreaterEqual(d["confidence"], 0.5)
                self.assertGreaterEqual(d["x"], 0)
                self.assertLessEqual(d["x"] + d["w"], 768)
                self.assertLessEqual(d["y"] + d["h"], 576)
                labels.add(d["label"])
            with_person += "person" in labels
        self.assertGreaterEqual(with_person, 80)

    def test_tee_branch_and_interval(self):
        """yolojson at the end of a tee branch, detector inferring every 4th
        frame: every frame still has its line, and in-between frames carry
        the newest results with their age."""
        out = os.path.join(self.tmp.name, "t.jsonl")
        gst_launch(*first_frames(24), "videoconvert", "!", "yolodetect", "inference-interval=4", "!", "tee", "name=t",
                   "t.", "!", "queue", "!", "fakesink",
                   "t.", "!", "queue", "!", "yolojson", f"location={out}", "!",
                   "fakesink")
        frames = read_jsonl(out)
        self.assertEqual([f["frame"] for f in frames], list(range(24)))
        for f in frames:
            seen = frames[(f["frame"] // 4) * 4]["pts"]
            for d in f["detections"]:
                self.assertEqual(d["frame_pts"], seen)
                self.assertAlmostEqual(d["age_ms"], (f["pts"] - seen) / 1e6)

    def test_detections_survive_convert_and_scale(self):
        """videoconvert and videoscale after the detector keep every field
        of every detection and scale the boxes with the frame."""
        full = os.path.join(self.tmp.name, "full.jsonl")
        half = os.path.join(self.tmp.name, "half.jsonl")
        head = [*first_frames(5), "videoconvert", "!", "video/x-raw,format=BGRx", "!",
                "yolodetect", "model=yolo-fastest-1.1-xl", "!", "tee", "name=t",
                "t.", "!", "queue", "!", "yolojson", f"location={full}", "!", "fakesink",
                "t.", "!", "queue", "!", "videoconvert", "!", "videoscale", "!",
                "video/x-raw,format=I420,width=384,height=288", "!",
                "yolojson", f"location={half}", "!", "fakesink"]
        gst_launch(*head)
        a, b = read_jsonl(full), read_jsonl(half)
        self.assertEqual(len(a), 5)
        self.assertEqual(len(b), 5)
        for fa, fb in zip(a, b):
            self.assertEqual((fb["width"], fb["height"]), (384, 288))
            self.assertEqual(len(fa["detections"]), len(fb["detections"]))
            self.assertGreater(len(fa["detections"]), 0)
            for da, db in zip(fa["detections"], fb["detections"]):
                for key in ("label", "class_id", "confidence", "source", "model",
                            "frame_pts", "age_ms"):
                    self.assertEqual(da[key], db[key])
                for key in ("x", "y", "w", "h"):
                    self.assertLessEqual(abs(da[key] / 2 - db[key]), 1.0)

    def test_missing_model_fails_clearly(self):
        """A missing model stops the pipeline at start with a sentence that
        names the model and what to do."""
        proc = subprocess.run(
            ["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO}", "!",
             "decodebin", "!", "videoconvert", "!", "yolodetect",
             "model=no-such-model", "!", "fakesink"],
            capture_output=True, text=True, timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        text = proc.stdout + proc.stderr
        self.assertIn('Model "no-such-model" not found', text)
        self.assertIn("YOLOSWITCH_MODEL_DIR", text)

    def test_demo_script(self):
        """The README's main job, on 30 frames: JSON lines, an annotated
        video that decodes to 30 frames, and a PNG."""
        out = os.path.join(self.tmp.name, "demo")
        proc = subprocess.run(
            ["bash", os.path.join(ROOT, "scripts", "demo.sh"), "--no-setup",
             "--frames", "30", "--out", out],
            capture_output=True, text=True, timeout=900)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("frames:      30", proc.stdout)
        self.assertIn("person", proc.stdout)
        self.assertEqual(len(read_jsonl(os.path.join(out, "detections.jsonl"))), 30)
        with open(os.path.join(out, "annotated.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        counted = os.path.join(self.tmp.name, "count.jsonl")
        gst_launch("filesrc", f"location={os.path.join(out, 'annotated.mp4')}",
                   "!", "decodebin", "!", "videoconvert", "!", "yolojson",
                   f"location={counted}", "!", "fakesink")
        self.assertEqual(len(read_jsonl(counted)), 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
