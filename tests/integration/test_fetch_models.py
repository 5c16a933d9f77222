#!/usr/bin/python3
"""scripts/fetch-models.sh against a local mirror (these machines have no
internet): verified files land where yoloswitch finds them by name, and a
corrupted file is refused without replacing anything."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("YOLOSWITCH_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MODELS = os.path.join(SHARED, "models")
FETCH = os.path.join(ROOT, "scripts", "fetch-models.sh")


def fetch(mirror, *args):
    env = dict(os.environ, YOLOSWITCH_MODEL_MIRROR=mirror)
    return subprocess.run(["bash", FETCH, *args], capture_output=True, text=True,
                          env=env, timeout=300)


class FetchModels(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_fetch_then_detect(self):
        dest = os.path.join(self.tmp, "models")
        proc = fetch(MODELS, "--dir", dest, "yolo-fastest-1.1")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(sorted(os.listdir(dest)),
                         ["coco.names", "yolo-fastest-1.1.cfg", "yolo-fastest-1.1.weights"])
        self.assertEqual(fetch(MODELS, "--dir", dest, "--check", "yolo-fastest-1.1").returncode, 0)
        out = subprocess.run(["yoloswitch-detect", "--model", "yolo-fastest-1.1",
                              "--model-dir", dest, "/usr/share/darknet/data/dog.jpg"],
                             capture_output=True, text=True, check=True).stdout
        labels = {d["label"] for d in json.loads(out)["detections"]}
        self.assertEqual(labels, {"dog", "cat", "car", "bicycle"})

    def test_corrupt_mirror_is_refused(self):
        mirror = os.path.join(self.tmp, "mirror")
        os.mkdir(mirror)
        for name in ("yolo-fastest-1.1.cfg", "coco.names"):
            shutil.copy(os.path.join(MODELS, name), mirror)
        with open(os.path.join(MODELS, "yolo-fastest-1.1.weights"), "rb") as f:
            data = f.read()
        with open(os.path.join(mirror, "yolo-fastest-1.1.weights"), "wb") as f:
            f.write(data[: len(data) // 2])
        dest = os.path.join(self.tmp, "models")
        proc = fetch(mirror, "--dir", dest, "yolo-fastest-1.1")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("yolo-fastest-1.1.weights", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(dest, "yolo-fastest-1.1.weights")))
        self.assertEqual(fetch(mirror, "--dir", dest, "--check", "yolo-fastest-1.1").returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
