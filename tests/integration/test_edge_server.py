#!/usr/bin/python3
"""yoloswitch-edge, the real binary on loopback, driven by a client we did not
write (Python websockets speaking docs/PROTOCOL.md)."""
import asyncio
import os
import re
import socket
import ssl
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

DOG = "/usr/share/darknet/data/dog.jpg"
DOG_SIZE = (768, 576)
# ../shared/models/README.md, yolo-fastest-1.1-xl on dog.jpg.
DOG_REFERENCE = {"dog": (114, 189, 272, 347), "car": (446, 80, 239, 82),
                 "bicycle": (114, 127, 459, 372)}
TOKEN = "s3cret-token"


def dog_jpeg():
    with open(DOG, "rb") as f:
        return f.read()


async def connect(url):
    return await websockets.connect(url, subprotocols=[ec.SUBPROTOCOL],
                                    max_size=None, ping_interval=None)


async def recv(ws, timeout=60):
    return ec.parse(await asyncio.wait_for(ws.recv(), timeout))


async def handshake(ws, token=TOKEN, name="test-client"):
    await ws.send(ec.hello(name, token=token))
    reply = await recv(ws)
    return reply


async def expect_error_and_close(ws, code):
    """The next message is ERROR `code`, then the server closes."""
    m = await recv(ws)
    assert m["type"] == ec.ERROR, m
    assert m["code"] == code, m
    assert m["text"], "ERROR without a sentence"
    try:
        extra = await asyncio.wait_for(ws.recv(), 30)
        raise AssertionError(f"connection still open, got {extra[:40]!r}")
    except websockets.ConnectionClosed:
        pass
    return m


async def send_dog(ws, frame_id):
    """Sends dog.jpg as an MJPEG FRAME; returns (ack, answer)."""
    data = dog_jpeg()
    await ws.send(ec.frame(frame_id, ec.MJPEG, *DOG_SIZE, data,
                           capture_us=1000 + frame_id, config_id=7))
    ack = await recv(ws)
    answer = await recv(ws)
    return ack, answer, len(data) + 9


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class EdgeServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ec.EdgeServer("--token", TOKEN, "--max-message-bytes",
                                   "262144", "--workers", "1",
                                   "--queue-depth", "2")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 300))

    def test_dog_ack_then_result(self):
        """HELLO, then dog.jpg as a JPEG FRAME: ACK, then RESULT with dog,
        bicycle and car at the reference boxes."""
        async def go():
            ws = await connect(self.server.url)
            server_hello = await handshake(ws)
            ack, result, payload_len = await send_dog(ws, 1)
            await ws.close()
            return server_hello, ack, result, payload_len

        hello, ack, result, payload_len = self.run_async(go())
        self.assertEqual(hello["type"], ec.HELLO)
        self.assertTrue(hello["flags"] & ec.FLAG_SERVER)
        self.assertEqual(hello["model"], "yolo-fastest-1.1-xl")
        self.assertEqual((hello["net_width"], hello["net_height"]), (320, 320))
        self.assertEqual(sorted(hello["codecs"]),
                         [ec.H264, ec.MJPEG, ec.TENSOR, ec.TENSOR_ZSTD])
        # yolo-fastest-1.1-xl's hash, as tests/unit/test_split_codec.c pins it.
        self.assertEqual(hello["model_hash"], 0xc659994e11139ce0)
        self.assertEqual((hello["queue_depth"], hello["workers"]), (2, 1))
        # The model's label list: its names file's 80 lines in class order,
        # each what the RESULTs call that class.
        with open(os.path.join(ec.SHARED, "models", "coco.names")) as f:
            coco = [line.rstrip("\r\n") for line in f if line.strip()]
        self.assertEqual(len(coco), 80)
        self.assertEqual(hello["labels"], coco)
        self.assertEqual(hello["labels"][16], "dog")

        self.assertEqual(ack["type"], ec.ACK)
        self.assertEqual((ack["frame_id"], ack["config_id"], ack["capture_us"]),
                         (1, 7, 1001))
        self.assertEqual(ack["bytes"], payload_len)

        self.assertEqual(result["type"], ec.RESULT, result)
        self.assertEqual((result["frame_id"], result["config_id"],
                          result["capture_us"]), (1, 7, 1001))
        self.assertEqual((result["width"], result["height"]), DOG_SIZE)
        self.assertEqual(result["model"], "yolo-fastest-1.1-xl")
        self.assertGreater(result["infer_us"], 0)
        self.assertGreater(result["decode_us"], 0)
        w, h = DOG_SIZE
        for label, ref in DOG_REFERENCE.items():
            best = max((ec.iou((d["x"] * w, d["y"] * h, d["w"] * w,
                                d["h"] * h), ref)
                        for d in result["detections"] if d["label"] == label),
                       default=0.0)
            self.assertGreater(best, 0.9, f"{label}: best IoU {best:.3f} in "
                               f"{result['detections']}")
        for d in result["detections"]:
            self.assertEqual(hello["labels"][d["class_id"]], d["label"], d)

    def test_bad_clients_do_not_disturb_a_good_one(self):
        """Bad token, no token, garbage bytes, an oversize frame, a text
        message and FRAME before HELLO each get ERROR and a closed
        connection, while a second client keeps getting results."""
        async def good_client(stop, results):
            ws = await connect(self.server.url)
            await handshake(ws)
            frame_id = 100
            while not stop.is_set():
                frame_id += 1
                ack, answer, _ = await send_dog(ws, frame_id)
                assert ack["type"] == ec.ACK and ack["frame_id"] == frame_id
                assert answer["frame_id"] == frame_id, answer
                if answer["type"] == ec.RESULT:
                    results.append(frame_id)
            await ws.close()

        async def bad_clients():
            seen = []
            ws = await connect(self.server.url)
            await ws.send(ec.hello("intruder", token="wrong"))
            seen.append((await expect_error_and_close(ws, "unauthorized"))["text"])

            ws = await connect(self.server.url)
            await ws.send(ec.hello("no-token"))
            seen.append((await expect_error_and_close(ws, "unauthorized"))["text"])

            ws = await connect(self.server.url)
            await ws.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
            seen.append((await expect_error_and_close(ws, "malformed"))["text"])

            ws = await connect(self.server.url)
            await handshake(ws)
            big = bytes(300_000)
            try:
                await ws.send(ec.frame(1, ec.MJPEG, 640, 480, big))
            except websockets.ConnectionClosed:
                pass
            seen.append((await expect_error_and_close(ws, "too-large"))["text"])

            ws = await connect(self.server.url)
            await ws.send("hello as text")
            seen.append((await expect_error_and_close(ws, "malformed"))["text"])

            ws = await connect(self.server.url)
            await ws.send(ec.frame(1, ec.MJPEG, *DOG_SIZE, dog_jpeg()))
            seen.append((await expect_error_and_close(ws, "sequence"))["text"])

            # A message whose header claims more bytes than the WebSocket
            # message holds (a lying length).
            ws = await connect(self.server.url)
            await handshake(ws)
            lying = bytearray(ec.message(ec.PING))
            lying[24:28] = (50).to_bytes(4, "little")
            await ws.send(bytes(lying))
            seen.append((await expect_error_and_close(ws, "malformed"))["text"])
            return seen

        async def go():
            stop = asyncio.Event()
            results = []
            good = asyncio.create_task(good_client(stop, results))
            await asyncio.sleep(0.5)
            before = len(results)
            texts = await bad_clients()
            after_bad = len(results)
            # The good client goes on after all of that.
            while len(results) < after_bad + 3:
                await asyncio.sleep(0.1)
            stop.set()
            await good
            return before, results, texts

        before, results, texts = self.run_async(go())
        self.assertGreater(len(results), before + 2)
        self.assertEqual(len(texts), 7)
        self.assertIn("token", texts[0])
        self.assertIn("magic", texts[2])
        self.assertIn("limit", texts[3])
        log = self.server.stderr()
        self.assertIn("closing: wrong token", log)
        self.assertEqual(self.server.proc.poll(), None, "server died")

    def test_every_frame_answered_latest_wins(self):
        """Twelve frames sent back to back: each gets one ACK and exactly one
        RESULT or DROP; older waiting frames are dropped as overload."""
        async def go():
            ws = await connect(self.server.url)
            await handshake(ws)
            data = dog_jpeg()
            # A deadline no loaded machine reaches: what is asserted is
            # which frames the queue keeps, not how fast the server works.
            for i in range(12):
                await ws.send(ec.frame(200 + i, ec.MJPEG, *DOG_SIZE, data,
                                       deadline_ms=ec.GENEROUS_BUDGET_MS))
            acks, answers = {}, {}
            while len(answers) < 12 or len(acks) < 12:
                m = await recv(ws)
                target = acks if m["type"] == ec.ACK else answers
                self.assertNotIn(m["frame_id"], target, f"twice: {m}")
                target[m["frame_id"]] = m
            await ws.close()
            return acks, answers

        acks, answers = self.run_async(go())
        self.assertEqual(sorted(acks), list(range(200, 212)))
        self.assertEqual(sorted(answers), list(range(200, 212)))
        kinds = {f: (m["type"], m.get("reason")) for f, m in answers.items()}
        self.assertEqual(kinds[211], (ec.RESULT, None), "the newest frame wins")
        for f, kind in kinds.items():
            self.assertIn(kind, [(ec.RESULT, None), (ec.DROP, "overload")], f)
        self.assertTrue(any(k == (ec.DROP, "overload") for k in kinds.values()))

    def test_ping_pong(self):
        async def go():
            ws = await connect(self.server.url)
            await handshake(ws)
            await ws.send(ec.message(ec.PING, capture_us=424242))
            m = await recv(ws)
            await ws.close()
            return m

        m = self.run_async(go())
        self.assertEqual((m["type"], m["capture_us"]), (ec.PONG, 424242))

    def test_http_health_and_metrics(self):
        self.run_async(self._one_dog())
        status, body = http_get(self.server.port, "/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        status, body = http_get(self.server.port, "/metrics")
        self.assertEqual(status, 200)
        values = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        self.assertGreaterEqual(values["yoloswitch_edge_frames_received_total"], 1)
        self.assertGreaterEqual(values["yoloswitch_edge_frames_inferred_total"], 1)
        self.assertGreaterEqual(values["yoloswitch_edge_frames_decoded_total"], 1)
        self.assertIn('yoloswitch_edge_frames_dropped_total{reason="deadline"}', values)
        self.assertEqual(values["yoloswitch_edge_workers"], 1)
        self.assertGreaterEqual(
            values['yoloswitch_edge_inference_seconds_bucket{le="+Inf"}'],
            values["yoloswitch_edge_frames_inferred_total"])
        status, _ = http_get(self.server.port, "/nothing-here")
        self.assertEqual(status, 404)

    async def _one_dog(self):
        ws = await connect(self.server.url)
        await handshake(ws)
        ack, result, _ = await send_dog(ws, 1)
        await ws.close()
        return result


class EdgeLifecycleTest(unittest.TestCase):
    def test_sigterm_finishes_in_flight_frames(self):
        """SIGTERM with frames in flight: every frame sent before it is
        answered, the server exits 0 and /healthz was 503 meanwhile."""
        with ec.EdgeServer("--workers", "1", "--queue-depth", "8") as server:
            async def go():
                ws = await connect(server.url)
                await handshake(ws, token="")
                data = dog_jpeg()
                # Four queued frames on one busy worker may take longer
                # than the server's default deadline on a loaded machine.
                for i in range(4):
                    await ws.send(ec.frame(1 + i, ec.MJPEG, *DOG_SIZE, data,
                                           deadline_ms=ec.GENEROUS_BUDGET_MS))
                answers, acks = {}, set()
                while len(acks) < 4:  # all four have arrived
                    m = await recv(ws)
                    if m["type"] == ec.ACK:
                        acks.add(m["frame_id"])
                    else:
                        answers[m["frame_id"]] = m
                first = {"type": ec.ACK}
                server.proc.send_signal(ec.signal.SIGTERM)
                try:
                    while len(answers) < 4:
                        m = await recv(ws)
                        if m["type"] in (ec.RESULT, ec.DROP):
                            answers[m["frame_id"]] = m
                except websockets.ConnectionClosed:
                    pass
                return first, answers

            first, answers = asyncio.run(go())
            self.assertEqual(first["type"], ec.ACK)
            self.assertEqual(server.terminate(), 0)
            self.assertEqual(sorted(answers), [1, 2, 3, 4])
            self.assertTrue(all(m["type"] == ec.RESULT for m in answers.values()),
                            answers)
            self.assertIn("stopping", server.stderr())

    def test_wss_from_a_client_trusting_its_certificate(self):
        """--tls-cert/--tls-key: the first line says wss://, and a client
        that trusts the certificate (Python's ssl, hostname checked) gets
        the dog; a plain ws:// client gets no WebSocket."""
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = ec.self_signed_certificate(tmp)
            with ec.EdgeServer("--tls-cert", cert, "--tls-key", key) as server:
                self.assertTrue(server.url.startswith("wss://127.0.0.1:"), server.url)
                tls = ssl.create_default_context(cafile=cert)

                async def go():
                    ws = await websockets.connect(
                        server.url, ssl=tls, subprotocols=[ec.SUBPROTOCOL],
                        max_size=None, ping_interval=None)
                    await handshake(ws, token="")
                    _, result, _ = await send_dog(ws, 1)
                    await ws.close()
                    return result

                result = asyncio.run(asyncio.wait_for(go(), 300))
                self.assertEqual(result["type"], ec.RESULT, result)
                self.assertLessEqual(set(DOG_REFERENCE),
                                     {d["label"] for d in result["detections"]})

                async def plain():
                    await connect(server.url.replace("wss://", "ws://"))

                with self.assertRaises((websockets.InvalidHandshake, OSError,
                                        asyncio.TimeoutError, EOFError)):
                    asyncio.run(asyncio.wait_for(plain(), 30))
                self.assertIsNone(server.proc.poll(), "server died")

                # HTTPS offering h2 first gets HTTP/1.1 (our answers are
                # HTTP/1's) and every answer, the catalog's too.
                tls_http = ssl.create_default_context(cafile=cert)
                tls_http.set_alpn_protocols(["h2", "http/1.1"])
                with socket.create_connection(("127.0.0.1", server.port),
                                              timeout=60) as raw:
                    with tls_http.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                        self.assertEqual(t.selected_alpn_protocol(), "http/1.1")
                        for path, want in (("/healthz", b"200"), ("/models", b"200"),
                                           ("/nope", b"404")):
                            t.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                            head = b""
                            while b"\r\n\r\n" not in head:
                                chunk = t.recv(65536)
                                self.assertTrue(chunk, path)
                                head += chunk
                            status_line = head.split(b"\r\n")[0]
                            self.assertIn(want, status_line, path)
                            length = int(re.search(rb"content-length: (\d+)",
                                                   head.lower()).group(1))
                            body = head.split(b"\r\n\r\n", 1)[1]
                            while len(body) < length:
                                body += t.recv(65536)

    def test_tls_options_checked_at_start(self):
        """A certificate without its key, or one that cannot be read, is a
        start-up error naming the problem."""
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = ec.self_signed_certificate(tmp)
            for args, words in ((["--tls-cert", cert], "tls-key"),
                                (["--tls-cert", cert, "--tls-key", tmp + "/nope.pem"],
                                 "nope.pem")):
                proc = ec.subprocess.run([ec.EDGE, "--port", "0", *args],
                                         capture_output=True, text=True, timeout=60)
                self.assertNotEqual(proc.returncode, 0)
                self.assertEqual(proc.stdout, "")
                self.assertIn(words, proc.stderr)

    def test_missing_model_fails_at_start(self):
        proc = ec.subprocess.run([ec.EDGE, "--port", "0", "--model",
                                  "no-such-model"], capture_output=True,
                                 text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, "")
        self.assertIn("no-such-model", proc.stderr)

    def test_names_file_with_a_control_character_sends_no_list(self):
        """A names file whose label 3 holds a tab: clients would refuse
        such a list, so the server's HELLO has none (it ends at `workers`)
        and its log says which label and why; RESULTs still come."""
        models = os.path.join(ec.SHARED, "models")
        with tempfile.TemporaryDirectory() as d:
            for ext in ("cfg", "weights"):
                os.symlink(os.path.join(models, f"yolo-fastest-1.1-xl.{ext}"),
                           os.path.join(d, f"yolo-fastest-1.1-xl.{ext}"))
            with open(os.path.join(models, "coco.names")) as f:
                names = f.read().splitlines()
            names[3] = "motor\tbike"
            with open(os.path.join(d, "coco.names"), "w") as f:
                f.write("\n".join(names) + "\n")
            with ec.EdgeServer("--model-dir", d, "--token", TOKEN) as server:
                async def go():
                    ws = await connect(server.url)
                    hello = await handshake(ws)
                    ack, result, _ = await send_dog(ws, 1)
                    await ws.close()
                    return hello, result
                hello, result = asyncio.run(asyncio.wait_for(go(), 300))
                log = server.stderr()
        self.assertEqual(hello["model"], "yolo-fastest-1.1-xl")
        self.assertEqual(hello["labels"], [])
        self.assertIn("label 3 of model yolo-fastest-1.1-xl holds a control "
                      "character (byte 0x09): clients get no label list", log)
        self.assertEqual(result["type"], ec.RESULT, result)
        self.assertIn("dog", [d["label"] for d in result["detections"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
