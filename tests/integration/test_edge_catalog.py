#!/usr/bin/python3
"""The edge server's model catalog (issue 16, docs/MODELS.md "The catalog"):
the real yoloswitch-edge on loopback over a folder the test builds (links
to ../shared/models, an 8-bit variant written by yoloswitch-quantize, a
profile, a broken cfg), read with plain HTTP from the Python standard
library: GET /models against its JSON schema and the files' own digests;
files with ETag, If-None-Match, byte ranges and a download resumed after a
cut connection; nothing served that is not listed; a model copied in (and
one removed, and a new version) seen without a restart; the token; the
download limit and the stall timeout."""
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ec.SHARED, "models")
SCHEMA = os.path.join(ROOT, "docs", "schemas", "catalog.schema.json")
PROFILE = os.path.join(ROOT, "configs", "vtest.profile.json")
TOKEN = "catalog-token"
LOCAL = "yolo-fastest-1.1"
EDGE = "yolo-fastest-1.1-xl"
# Budget for the rescanning thread (every 200 ms here) and the settling
# second to see a change: generous, the machine may be busy.
SEEN_WITHIN_S = 60


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def link(folder, *names):
    """Links files of ../shared/models into folder with an mtime the
    catalog takes at once (a symlink's target's, older than a second)."""
    for n in names:
        os.symlink(os.path.join(MODELS, n), os.path.join(folder, n))


def get(port, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def catalog(port, headers=None):
    status, _, body = get(port, "/models", headers)
    assert status == 200, (status, body[:200])
    return json.loads(body)


def model(doc, name):
    found = [m for m in doc["models"] if m["name"] == name]
    return found[0] if found else None


def wait_for(check, what):
    deadline = time.monotonic() + SEEN_WITHIN_S
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not seen within {SEEN_WITHIN_S} s: {what}")


def settled(path):
    """A file the test wrote, dated two seconds back so the catalog does
    not wait for it to settle (what an operator's rename of a finished
    copy looks like)."""
    t = time.time() - 2
    os.utime(path, (t, t))


class CatalogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="catalog-")
        link(cls.dir, f"{LOCAL}.cfg", f"{LOCAL}.weights", "coco.names",
             "yoloface-500k.cfg", "yoloface-500k.weights", "face.names",
             f"{EDGE}.cfg", f"{EDGE}.weights")
        q8 = os.path.join(cls.dir, f"{LOCAL}.q8.weights")
        subprocess.run(["yoloswitch-quantize", "--model", LOCAL, "--model-dir",
                        MODELS, "--out", q8], check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
        settled(q8)
        shutil.copy(PROFILE, os.path.join(cls.dir, "vtest.profile.json"))
        settled(os.path.join(cls.dir, "vtest.profile.json"))
        with open(os.path.join(cls.dir, "broken.cfg"), "w") as f:
            f.write("[net]\nwidth=320\n")
        settled(os.path.join(cls.dir, "broken.cfg"))
        cls.server = ec.EdgeServer("--model", EDGE, "--model-dir", MODELS,
                                   "--catalog-dir", cls.dir,
                                   "--catalog-scan-ms", "200",
                                   "--max-downloads", "2",
                                   "--download-stall-ms", "1000")
        with open(SCHEMA) as f:
            cls.schema = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir)

    def test_listing(self):
        """Every model of the folder, valid against the schema, each file's
        size and sha256 its own; the 8-bit variant beside the float one;
        accuracy and latency from the profile; the broken cfg refused with
        the parser's reason."""
        doc = catalog(self.server.port)
        jsonschema.validate(doc, self.schema)
        self.assertEqual(sorted(m["name"] for m in doc["models"]),
                         [LOCAL, EDGE, "yoloface-500k"])
        m = model(doc, LOCAL)
        self.assertEqual((m["input"]["width"], m["input"]["height"]), (320, 320))
        self.assertEqual((m["classes"], m["labels"]), (80, "coco.names"))
        roles = {f["role"]: f for f in m["files"]}
        self.assertEqual(sorted(roles), ["cfg", "labels", "weights", "weights-q8"])
        for f in m["files"]:
            path = os.path.join(self.dir, f["file"])
            self.assertEqual(f["bytes"], os.path.getsize(path), f)
            self.assertEqual(f["sha256"], sha256(path), f)
            self.assertEqual(f["url"], f"/models/{LOCAL}/{f['file']}")
        self.assertEqual(
            m["sha256"],
            hashlib.sha256((roles["cfg"]["sha256"]
                            + roles["weights"]["sha256"]).encode()).hexdigest())
        self.assertEqual(m["version"], m["sha256"][:12])
        variants = {v["weights"]: v for v in m["variants"]}
        self.assertEqual(variants["float32"]["file"], f"{LOCAL}.weights")
        self.assertEqual(variants["int8"]["file"], f"{LOCAL}.q8.weights")
        self.assertLess(variants["int8"]["bytes"], 0.27 * variants["float32"]["bytes"])
        # configs/vtest.profile.json: the local model at 320x320.
        with open(PROFILE) as f:
            row = [c for c in json.load(f)["configs"] if c["path"] == "local"
                   and c["model"] == LOCAL and c["width"] == 320][0]
        acc = [a for a in m["accuracy"] if a["input"] == "320x320"]
        self.assertEqual(len(acc), 1)
        self.assertAlmostEqual(acc[0]["iou_accuracy"], row["iou_accuracy"])
        self.assertEqual((acc[0]["reference"], acc[0]["video"]), (EDGE, "vtest.avi"))
        lat = [a for a in m["latency_ms"] if a["input"] == "320x320"]
        self.assertAlmostEqual(lat[0]["infer_ms"], row["infer_ms"])
        face = model(doc, "yoloface-500k")
        self.assertEqual((face["classes"], face["labels"]), (1, "face.names"))
        self.assertEqual(face["accuracy"], [])
        refused = {r["file"]: r["problem"] for r in doc["refused"]}
        self.assertIn("broken.cfg", refused)
        self.assertIn("[net] needs", refused["broken.cfg"])

    def test_file_etag_and_ranges(self):
        """A file whole, with its sha256 as a strong ETag; If-None-Match
        gets 304 and no body; one range in each form gets 206 with its
        Content-Range and exactly those bytes; past the end 416; a range
        list or an If-Range of another tag gets the whole file."""
        port = self.server.port
        path = os.path.join(self.dir, f"{LOCAL}.weights")
        with open(path, "rb") as f:
            data = f.read()
        url = f"/models/{LOCAL}/{LOCAL}.weights"
        tag = f'"{hashlib.sha256(data).hexdigest()}"'
        status, h, body = get(port, url)
        self.assertEqual((status, h["etag"], h["accept-ranges"]), (200, tag, "bytes"))
        self.assertEqual(body, data)
        status, _, body = get(port, url, {"If-None-Match": tag})
        self.assertEqual((status, body), (304, b""))
        n = len(data)
        for rng, first, last in (("bytes=0-99", 0, 99),
                                 ("bytes=1000000-", 1000000, n - 1),
                                 ("bytes=-500", n - 500, n - 1),
                                 ("bytes=10-99999999", 10, n - 1)):
            status, h, body = get(port, url, {"Range": rng})
            self.assertEqual(status, 206, rng)
            self.assertEqual(h["content-range"], f"bytes {first}-{last}/{n}", rng)
            self.assertEqual(body, data[first:last + 1], rng)
        status, h, _ = get(port, url, {"Range": f"bytes={n}-"})
        self.assertEqual((status, h["content-range"]), (416, f"bytes */{n}"))
        for headers in ({"Range": "bytes=0-1,5-9"},
                        {"Range": "bytes=0-99", "If-Range": '"0000"'}):
            status, _, body = get(port, url, headers)
            self.assertEqual((status, len(body)), (200, n), headers)
        # The cfg and labels are text.
        status, h, body = get(port, f"/models/{LOCAL}/coco.names")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/plain"))
        self.assertEqual(body.decode().split("\n")[16], "dog")

    def test_resume_after_cut(self):
        """A download cut after 300 KB (the client closes its socket), then
        resumed from there with a range: the two parts are the file."""
        port = self.server.port
        url = f"/models/{EDGE}/{EDGE}.weights"
        with open(os.path.join(self.dir, f"{EDGE}.weights"), "rb") as f:
            data = f.read()
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 300000:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed before 300 KB")
            got += chunk
        s.close()
        head, part = got.split(b"\r\n\r\n", 1)
        self.assertIn(b"200 OK", head.split(b"\r\n")[0])
        self.assertEqual(part, data[:len(part)])
        status, h, rest = get(port, url, {"Range": f"bytes={len(part)}-",
                                          "If-Range": h_etag(data)})
        self.assertEqual(status, 206)
        self.assertEqual(hashlib.sha256(part + rest).hexdigest(),
                         hashlib.sha256(data).hexdigest())
        # The cut download freed its place: two at once still work.
        self.assertEqual(get(port, url)[0], 200)

    def test_methods_and_304(self):
        """HEAD: GET's headers and no body (no download place taken); other
        methods 405 with Allow; a 304 describes no body (no
        Content-Length, no Content-Type); the unit in any case."""
        port = self.server.port
        url = f"/models/{LOCAL}/{LOCAL}.weights"
        size = os.path.getsize(os.path.join(self.dir, f"{LOCAL}.weights"))
        status, h, body = get(port, url, method="HEAD")
        self.assertEqual((status, int(h["content-length"]), body), (200, size, b""))
        self.assertIn("etag", h)
        # Keep-alive after a HEAD: the next answer on the connection is
        # its own, not the HEAD's body.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("HEAD", url)
        r = c.getresponse()
        r.read()
        c.request("GET", f"/models/{LOCAL}/coco.names")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.read().decode().split("\n")[0], "person")
        c.close()
        status, h, _ = get(port, url, method="POST")
        self.assertEqual((status, h.get("allow")), (405, "GET, HEAD"))
        status, h, _ = get(port, url)
        tag = h["etag"]
        status, h, body = get(port, url, {"If-None-Match": tag})
        self.assertEqual((status, body), (304, b""))
        self.assertNotIn("content-type", h)
        self.assertEqual(h.get("etag"), tag)
        self.assertIn(h.get("content-length", "0"), ("0",))
        status, h, body = get(port, url, {"Range": "BYTES=0-9"})
        self.assertEqual((status, len(body)), (206, 10))

    def test_hostile_profiles(self):
        """Profiles in the folder that would cost the server: 100,000 nested
        brackets (json-glib recurses per level: it crashed the server) and
        1000 rows of 50 KB strings (the listing would reach gigabytes) ---
        the server stays up, the listing stays small."""
        port = self.server.port
        deep = os.path.join(self.dir, "deep.profile.json")
        wide = os.path.join(self.dir, "wide.profile.json")
        with open(deep, "w") as f:
            f.write('{"configs":' + "[" * 100000 + "]" * 100000 + "}")
        row = {"path": "local", "model": LOCAL, "width": 320, "height": 320,
               "iou_accuracy": 0.5, "f1": 0.5, "infer_ms": 1}
        with open(wide, "w") as f:
            json.dump({"reference_model": "r" * 50000, "machine": "m" * 50000,
                       "configs": [row] * 1000}, f)
        settled(deep)
        settled(wide)
        try:
            doc = wait_for(lambda: (lambda d: d if any(
                a["profile"] == "wide.profile.json"
                for a in model(d, LOCAL)["accuracy"]) else None)(catalog(port)),
                "the wide profile's rows")
            jsonschema.validate(doc, self.schema)
            rows = [a for a in model(doc, LOCAL)["accuracy"]
                    if a["profile"] == "wide.profile.json"]
            self.assertEqual(len(rows), 256)
            self.assertLessEqual(len(rows[0]["reference"]), 128)
            self.assertLess(len(json.dumps(doc)), 4 << 20)
            self.assertFalse(any(a["profile"] == "deep.profile.json"
                                 for m in doc["models"] for a in m["accuracy"]))
            self.assertEqual(get(port, "/healthz")[0], 200)
        finally:
            os.unlink(deep)
            os.unlink(wide)
        wait_for(lambda: not any(a["profile"] == "wide.profile.json"
                                 for a in model(catalog(port), LOCAL)["accuracy"]),
                 "the wide profile's rows gone")

    def test_only_listed_files(self):
        """Nothing but a listed model's listed files: not another model's
        file under this name, not the broken model, not the profile, not a
        path out of the folder."""
        port = self.server.port
        for path in (f"/models/{LOCAL}/yoloface-500k.cfg",
                     "/models/broken/broken.cfg",
                     f"/models/{LOCAL}/vtest.profile.json",
                     f"/models/{LOCAL}/../../../etc/passwd",
                     f"/models/{LOCAL}/%2e%2e%2fetc%2fpasswd",
                     f"/models/{LOCAL}",
                     "/models/nope/nope.cfg",
                     f"/models/{LOCAL}/{LOCAL}.cfg/x"):
            status, _, body = get(port, path)
            self.assertEqual(status, 404, path)
            self.assertIn(b"/models", body, path)

    def test_changes_seen_without_restart(self):
        """A model copied in appears, with a higher generation; a
        NAME.version names its version; a model whose files go leaves."""
        port = self.server.port
        before = catalog(port)
        link(self.dir, "yolo-lite-voc.cfg", "yolo-lite-voc.weights", "voc.names")
        doc = wait_for(lambda: (lambda d: d if model(d, "yolo-lite-voc") else None)(
            catalog(port)), "yolo-lite-voc listed")
        jsonschema.validate(doc, self.schema)
        self.assertGreater(doc["generation"], before["generation"])
        lite = model(doc, "yolo-lite-voc")
        self.assertEqual((lite["classes"], lite["labels"]), (20, "voc.names"))
        self.assertEqual(get(port, "/models/yolo-lite-voc/yolo-lite-voc.cfg")[0], 200)

        version = os.path.join(self.dir, "yolo-lite-voc.version")
        with open(version, "w") as f:
            f.write("2026.12-b\n")
        settled(version)
        wait_for(lambda: model(catalog(port), "yolo-lite-voc")["version"] == "2026.12-b",
                 "the version file's version")

        for n in ("yolo-lite-voc.cfg", "yolo-lite-voc.weights", "voc.names",
                  "yolo-lite-voc.version"):
            os.unlink(os.path.join(self.dir, n))
        wait_for(lambda: model(catalog(port), "yolo-lite-voc") is None,
                 "yolo-lite-voc gone")
        self.assertEqual(get(port, "/models/yolo-lite-voc/yolo-lite-voc.cfg")[0], 404)

    def test_download_limit_and_stall(self):
        """--max-downloads 2: a third download at once gets 503 with
        Retry-After; clients that take no bytes are closed after
        --download-stall-ms, and their places free."""
        port = self.server.port
        url = f"/models/{EDGE}/{EDGE}.weights"
        stuck = []
        for _ in range(2):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            s.settimeout(60)
            self.assertIn(b"200 OK", s.recv(64))
            stuck.append(s)
        status, h, body = get(port, url)
        self.assertEqual((status, h.get("retry-after")), (503, "1"))
        self.assertIn(b"--max-downloads", body)
        # Still readable meanwhile: the catalog and small answers.
        self.assertEqual(get(port, "/models")[0], 200)
        wait_for(lambda: get(port, url)[0] == 200, "a download after the stalled "
                 "ones were closed")
        for s in stuck:
            # Closed by the server: reading drains what was sent, then EOF.
            s.settimeout(60)
            total = 0
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
            self.assertLess(total, os.path.getsize(os.path.join(self.dir,
                                                                f"{EDGE}.weights")))
            s.close()


def h_etag(data):
    return f'"{hashlib.sha256(data).hexdigest()}"'


class CatalogTokenTest(unittest.TestCase):
    def test_token(self):
        """With --token the catalog needs it as a bearer token (401 with
        WWW-Authenticate otherwise); /healthz does not; --catalog-dir none
        has no catalog at all."""
        with ec.EdgeServer("--model", EDGE, "--model-dir", MODELS,
                           "--token", TOKEN) as server:
            status, h, body = get(server.port, "/models")
            self.assertEqual((status, h.get("www-authenticate")), (401, "Bearer"))
            self.assertIn(b"Authorization", body)
            status, _, _ = get(server.port, "/models",
                               {"Authorization": "Bearer wrong"})
            self.assertEqual(status, 401)
            self.assertEqual(get(server.port, f"/models/{EDGE}/{EDGE}.cfg")[0], 401)
            doc = catalog(server.port, {"Authorization": f"Bearer {TOKEN}"})
            # The default folder: the served model's, ../shared/models.
            self.assertIsNotNone(model(doc, EDGE))
            self.assertIsNotNone(model(doc, "yolo-lite-coco"))
            self.assertEqual(get(server.port, "/healthz")[0], 200)
        with ec.EdgeServer("--model", EDGE, "--model-dir", MODELS,
                           "--catalog-dir", "none") as server:
            status, _, body = get(server.port, "/models")
            self.assertEqual(status, 404)
            self.assertIn(b"no model catalog", body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
