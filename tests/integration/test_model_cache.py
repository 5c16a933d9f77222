#!/usr/bin/python3
"""The device's model cache (issue 16, docs/MODELS.md "The device cache"),
through yoloswitch-models: models fetched from the real edge server's
catalog on loopback, byte for byte, and loaded from the cache by
yoloswitch-detect (dog.jpg's boxes); served from the cache with the server
gone, and a clear error for a model that cannot be had; a download cut
mid-file by a test server resumed with a range; a damaged file refused and
fetched again (and refused for good when the server keeps sending it);
eviction by value within a budget, never a model in use."""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ec.SHARED, "models")
PROFILE = os.path.join(ROOT, "configs", "vtest.profile.json")
LOCAL = "yolo-fastest-1.1"
EDGE = "yolo-fastest-1.1-xl"
DOG = "/usr/share/darknet/data/dog.jpg"
# ../shared/models/README.md: yolo-fastest-1.1's dog on dog.jpg (x, y, w, h).
DOG_BOX = (122, 222, 243, 295)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def models_cli(cache, *args, server=None):
    cmd = ["yoloswitch-models", "--cache-dir", cache, "--stall-ms", "5000",
           "--deadline-ms", "120000"]
    if server:
        cmd += ["--server", server]
    p = subprocess.run(cmd + list(args), capture_output=True, text=True,
                       timeout=600)
    reports = [json.loads(line) for line in p.stdout.splitlines() if line]
    return p.returncode, reports, p.stderr


def entry(cache, name):
    with open(os.path.join(cache, name, "entry.json")) as f:
        return json.load(f)


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / float(aw * ah + bw * bh - w * h)


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Serves the real server's catalog and the catalog folder's files,
    honouring one byte range; `cut` and `damage` (per file name) make the
    first whole answers fail: cut after N bytes, or one byte flipped."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        s = self.server
        s.requests.append((self.path, self.headers.get("Range")))
        if self.path == "/models":
            body = s.catalog
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        name = self.path.rsplit("/", 1)[-1]
        with open(os.path.join(s.folder, name), "rb") as f:
            data = f.read()
        first, status = 0, 200
        rng = self.headers.get("Range")
        if rng and s.refuse_ranges:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if rng and self.headers.get("If-Range") == f'"{hashlib.sha256(data).hexdigest()}"':
            first = int(rng.split("=")[1].split("-")[0])
            status = 206
        body = data[first:]
        if status == 200 and s.damage.get(name, 0) > 0:
            s.damage[name] -= 1
            body = bytearray(body)
            body[len(body) // 2] ^= 0x5A
            body = bytes(body)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if status == 200 and s.cut.get(name, 0) > 0:
            s.cut[name] = 0
            self.wfile.write(body[:300000])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


class Flaky:
    def __init__(self, folder, catalog):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
        self.httpd.folder = folder
        self.httpd.catalog = catalog
        self.httpd.requests = []
        self.httpd.cut = {}
        self.httpd.damage = {}
        self.httpd.refuse_ranges = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ModelCacheTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="catalog-")
        for n in (f"{LOCAL}.cfg", f"{LOCAL}.weights", "coco.names",
                  "yoloface-500k.cfg", "yoloface-500k.weights", "face.names",
                  "yolo-lite-coco.cfg", "yolo-lite-coco.weights",
                  f"{EDGE}.cfg", f"{EDGE}.weights"):
            os.symlink(os.path.join(MODELS, n), os.path.join(cls.folder, n))
        shutil.copy(PROFILE, os.path.join(cls.folder, "vtest.profile.json"))
        t = os.path.getmtime(PROFILE) - 10
        os.utime(os.path.join(cls.folder, "vtest.profile.json"), (t, t))
        cls.server = ec.EdgeServer("--model", EDGE, "--model-dir", MODELS,
                                   "--catalog-dir", cls.folder)
        with urllib.request.urlopen(f"http://127.0.0.1:{cls.server.port}/models",
                                    timeout=60) as r:
            cls.catalog = r.read()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.folder)

    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix="cache-")

    def tearDown(self):
        shutil.rmtree(self.cache)

    def test_fetch_then_load(self):
        """Fetched from the real server byte for byte, taken again without
        a byte sent, and loaded from the cache: dog.jpg's dog."""
        rc, reports, err = models_cli(self.cache, LOCAL, server=self.server.url)
        self.assertEqual(rc, 0, err)
        r = reports[0]
        self.assertTrue(r["fetched"])
        folder = os.path.join(self.cache, LOCAL)
        self.assertEqual(r["dir"], folder)
        # Stored under the model's name (the loader looks there first).
        for n, src in ((f"{LOCAL}.cfg", f"{LOCAL}.cfg"),
                       (f"{LOCAL}.weights", f"{LOCAL}.weights"),
                       (f"{LOCAL}.names", "coco.names")):
            self.assertEqual(sha256(os.path.join(folder, n)),
                             sha256(os.path.join(MODELS, src)), n)
        self.assertEqual(r["sent_bytes"], r["bytes"])
        rc, reports, err = models_cli(self.cache, LOCAL, server=self.server.url)
        self.assertEqual((rc, reports[0]["fetched"], reports[0]["sent_bytes"]),
                         (0, False, 0), err)
        e = entry(self.cache, LOCAL)
        self.assertEqual(e["uses"], 2)
        self.assertAlmostEqual(e["accuracy"], 0.5688, places=4)
        p = subprocess.run(["yoloswitch-detect", "--model", LOCAL, "--model-dir",
                            folder, DOG], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout.splitlines()[0])
        dogs = [d for d in out["detections"] if d["label"] == "dog"]
        self.assertTrue(dogs, out)
        best = max(iou((d["x"], d["y"], d["w"], d["h"]), DOG_BOX) for d in dogs)
        self.assertGreater(best, 0.8, dogs)

    def test_int8_variant(self):
        """--int8 fetches the 8-bit file where the catalog lists one, stored
        as NAME.weights; it loads and finds the dog."""
        q8 = os.path.join(self.folder, f"{LOCAL}.q8.weights")
        subprocess.run(["yoloswitch-quantize", "--model", LOCAL, "--model-dir",
                        MODELS, "--out", q8], check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
        t = os.path.getmtime(q8) - 10
        os.utime(q8, (t, t))
        try:
            flaky = Flaky(self.folder, self.fresh_catalog(LOCAL, q8))
            rc, reports, err = models_cli(self.cache, "--int8", LOCAL, server=flaky.url)
            flaky.stop()
        finally:
            os.unlink(q8)
        self.assertEqual(rc, 0, err)
        self.assertTrue(reports[0]["int8"])
        stored = os.path.join(self.cache, LOCAL, f"{LOCAL}.weights")
        with open(stored, "rb") as f:
            self.assertEqual(f.read(4), b"YSQ8")
        p = subprocess.run(["yoloswitch-detect", "--model", LOCAL, "--model-dir",
                            os.path.join(self.cache, LOCAL), DOG],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('"dog"', p.stdout)

    def fresh_catalog(self, name, q8):
        """The server's catalog as it lists the q8 file once a scan saw it
        (the test server serves it at once, without waiting for a scan)."""
        doc = json.loads(self.catalog)
        m = [x for x in doc["models"] if x["name"] == name][0]
        m["files"].append({"file": os.path.basename(q8), "role": "weights-q8",
                           "bytes": os.path.getsize(q8), "sha256": sha256(q8),
                           "url": f"/models/{name}/{os.path.basename(q8)}"})
        return json.dumps(doc).encode()

    def test_offline(self):
        """The server gone: a cached model still served; one not cached is an
        error naming the cache, the URL and why."""
        rc, _, err = models_cli(self.cache, LOCAL, server=self.server.url)
        self.assertEqual(rc, 0, err)
        dead = "ws://127.0.0.1:9/"  # discard port: nothing listens
        rc, reports, err = models_cli(self.cache, LOCAL, server=dead)
        self.assertEqual((rc, reports[0]["fetched"]), (0, False), err)
        rc, reports, err = models_cli(self.cache, "yoloface-500k", server=dead)
        self.assertEqual((rc, reports), (1, []))
        self.assertIn('model "yoloface-500k" is not in model-cache-dir', err)
        self.assertIn("http://127.0.0.1:9/models", err)
        self.assertIn("onnect", err)  # curl: "Couldn't connect" / "Connection refused"
        rc, _, err = models_cli(self.cache, "nope", server=self.server.url)
        self.assertEqual(rc, 1)
        self.assertIn('the catalog does not list model "nope"', err)

    def test_resume_after_cut(self):
        """The weights cut after 300 KB: resumed with a range from where the
        part ends (the cut bytes not sent again), and byte-exact."""
        flaky = Flaky(self.folder, self.catalog)
        flaky.httpd.cut[f"{EDGE}.weights"] = 1
        try:
            rc, reports, err = models_cli(self.cache, EDGE, server=flaky.url)
        finally:
            flaky.stop()
        self.assertEqual(rc, 0, err)
        r = reports[0]
        ranges = [rg for path, rg in flaky.httpd.requests
                  if path.endswith(f"{EDGE}.weights") and rg]
        self.assertEqual(len(ranges), 1, flaky.httpd.requests)
        start = int(ranges[0].split("=")[1].rstrip("-"))
        self.assertGreater(start, 0)
        self.assertLessEqual(start, 300000)
        size = os.path.getsize(os.path.join(MODELS, f"{EDGE}.weights"))
        # What was sent: the part, then the rest; nothing twice.
        self.assertEqual(r["sent_bytes"] - (r["bytes"] - size), size)
        self.assertEqual(sha256(os.path.join(self.cache, EDGE, f"{EDGE}.weights")),
                         sha256(os.path.join(MODELS, f"{EDGE}.weights")))

    def test_resume_across_runs(self):
        """A run whose weights download is cut, and whose resumes fail,
        keeps the part; the next run resumes it with a range: the bytes
        already there are not sent again."""
        flaky = Flaky(self.folder, self.catalog)
        flaky.httpd.cut[f"{EDGE}.weights"] = 1
        flaky.httpd.refuse_ranges = True
        try:
            rc, _, err = models_cli(self.cache, EDGE, server=flaky.url)
            self.assertEqual(rc, 1)
            self.assertIn("HTTP 503", err)
            flaky.httpd.refuse_ranges = False
            flaky.httpd.requests.clear()
            rc, reports, err = models_cli(self.cache, EDGE, server=flaky.url)
        finally:
            flaky.stop()
        self.assertEqual(rc, 0, err)
        r = reports[0]
        self.assertGreater(r["resumed_bytes"], 0)
        self.assertLessEqual(r["resumed_bytes"], 300000)
        ranges = [rg for path, rg in flaky.httpd.requests
                  if path.endswith(f"{EDGE}.weights")]
        self.assertEqual(ranges, [f"bytes={r['resumed_bytes']}-"])
        size = os.path.getsize(os.path.join(MODELS, f"{EDGE}.weights"))
        self.assertEqual(r["sent_bytes"] + r["resumed_bytes"], r["bytes"])
        self.assertEqual(sha256(os.path.join(self.cache, EDGE, f"{EDGE}.weights")),
                         sha256(os.path.join(MODELS, f"{EDGE}.weights")))
        self.assertEqual(size, os.path.getsize(os.path.join(self.cache, EDGE,
                                                            f"{EDGE}.weights")))

    def test_damaged_file_fetched_again(self):
        """A file whose sha256 does not match is refused and fetched again;
        a server that keeps sending it damaged is an error naming it, and
        nothing of the model is left in the cache."""
        flaky = Flaky(self.folder, self.catalog)
        flaky.httpd.damage[f"{LOCAL}.weights"] = 1
        try:
            rc, reports, err = models_cli(self.cache, LOCAL, server=flaky.url)
            gets = [p for p, _ in flaky.httpd.requests if p.endswith(f"{LOCAL}.weights")]
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(gets), 2)
            self.assertEqual(sha256(os.path.join(self.cache, LOCAL, f"{LOCAL}.weights")),
                             sha256(os.path.join(MODELS, f"{LOCAL}.weights")))
            flaky.httpd.damage["face.names"] = 5
            rc, reports, err = models_cli(self.cache, "yoloface-500k", server=flaky.url)
        finally:
            flaky.stop()
        self.assertEqual(rc, 1)
        self.assertIn("sha256 does not match", err)
        self.assertIn("face.names", err)
        self.assertFalse(os.path.exists(os.path.join(self.cache, "yoloface-500k")))

    def test_budget_eviction(self):
        """A 4 MB budget: the model of least value ((uses + 1) x accuracy /
        MB) goes first; models held (named in the same run) never go, and a
        model that cannot fit beside them is an error naming them."""
        url = self.server.url
        mb = 1 << 20
        sizes = {}
        for name in (LOCAL, "yoloface-500k"):
            rc, reports, err = models_cli(self.cache, "--budget-mb", "4", name, server=url)
            self.assertEqual(rc, 0, err)
            sizes[name] = reports[0]["bytes"]
        for _ in range(3):
            self.assertEqual(models_cli(self.cache, "--budget-mb", "4", LOCAL,
                                        server=url)[0], 0)
        # LOCAL: 4 uses + 1, accuracy 0.5688 (the profile), 1.33 MB -> 2.1;
        # yoloface-500k: 1 use + 1, no accuracy listed (0.5), 0.50 MB -> 2.0.
        rc, reports, err = models_cli(self.cache, "--budget-mb", "4",
                                      "yolo-lite-coco", server=url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(reports[0]["evicted"], ["yoloface-500k"])
        self.assertTrue(os.path.isdir(os.path.join(self.cache, LOCAL)))
        self.assertFalse(os.path.exists(os.path.join(self.cache, "yoloface-500k")))
        total = sum(entry(self.cache, n)["bytes"] for n in (LOCAL, "yolo-lite-coco"))
        self.assertLessEqual(total, 4 * mb)
        # Both held, then the xl (3.5 MB): no room beside them.
        rc, reports, err = models_cli(self.cache, "--budget-mb", "4", LOCAL,
                                      "yolo-lite-coco", EDGE, server=url)
        self.assertEqual((rc, len(reports)), (1, 2), err)
        self.assertIn("beside the models in use", err)
        self.assertIn(LOCAL, err)
        self.assertIn("yolo-lite-coco", err)
        self.assertTrue(os.path.isdir(os.path.join(self.cache, LOCAL)))
        # Larger than the whole budget.
        rc, _, err = models_cli(self.cache, "--budget-mb", "1", EDGE, server=url)
        self.assertEqual(rc, 1)
        self.assertIn("more than cache-budget-mb", err)



def gst_dog(*detector, out):
    """dog.jpg through a detector element and yolojson; (exit code,
    output with bus messages)."""
    p = subprocess.run(
        ["gst-launch-1.0", "-m", "filesrc", f"location={DOG}", "!", "jpegdec",
         "!", "videoconvert", "!", *detector, "!", "yolojson",
         f"location={out}", "!", "fakesink"],
        capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


class ElementCacheTest(unittest.TestCase):
    """yolodetect and yoloswitch with model-cache-dir: a model the search
    path lacks ("cached-fastest", yolo-fastest-1.1 under a name of its own
    in the server's catalog folder) fetched at start, then run offline."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="catalog-")
        self.cache = tempfile.mkdtemp(prefix="cache-")
        for src, dst in ((f"{LOCAL}.cfg", "cached-fastest.cfg"),
                         (f"{LOCAL}.weights", "cached-fastest.weights"),
                         ("coco.names", "cached-fastest.names")):
            os.symlink(os.path.join(MODELS, src), os.path.join(self.folder, dst))
        self.server = ec.EdgeServer("--model", EDGE, "--model-dir", MODELS,
                                    "--catalog-dir", self.folder)
        self.out = os.path.join(self.cache, "out.jsonl")

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.folder)
        shutil.rmtree(self.cache)

    def dog_found(self):
        with open(self.out) as f:
            records = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(len(records), 1)
        dogs = [d for d in records[0]["detections"] if d["label"] == "dog"]
        self.assertTrue(dogs, records)
        return records[0]

    def test_yolodetect(self):
        cache = os.path.join(self.cache, "models")
        http = f"http://127.0.0.1:{self.server.port}"
        rc, out = gst_dog("yolodetect", "model=cached-fastest",
                          f"model-cache-dir={cache}", f"catalog={http}",
                          out=self.out)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn("yoloswitch-model-cache", out)
        self.assertIn("fetched=(boolean)true", out)
        self.dog_found()
        # The server gone: the cached model serves.
        self.server.stop()
        rc, out = gst_dog("yolodetect", "model=cached-fastest",
                          f"model-cache-dir={cache}", f"catalog={http}",
                          out=self.out)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn("fetched=(boolean)false", out)
        self.dog_found()
        # A model neither here nor fetchable: a clear error at start.
        rc, out = gst_dog("yolodetect", "model=never-heard-of",
                          f"model-cache-dir={cache}", f"catalog={http}",
                          out=self.out)
        self.assertNotEqual(rc, 0)
        self.assertIn('Model "never-heard-of" is not in the model search path', out)
        self.assertIn("could not be fetched", out)
        self.assertIn(f"{http}/models", out)

    def test_yoloswitch_local_model(self):
        """yoloswitch's local model from the cache, the catalog found
        through its server property (ws://)."""
        cache = os.path.join(self.cache, "models")
        rc, out = gst_dog("yoloswitch", "local-model=cached-fastest",
                          "policy=local", f"server={self.server.url}",
                          f"model-cache-dir={cache}", out=self.out)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn("fetched=(boolean)true", out)
        self.assertTrue(os.path.isfile(os.path.join(cache, "cached-fastest",
                                                    "cached-fastest.weights")))
        self.dog_found()


if __name__ == "__main__":
    unittest.main(verbosity=2)
