#!/usr/bin/python3
"""Split FRAMEs (codec 16, issue 15) against the real yoloswitch-edge on
loopback: the device's side is yoloswitch-split-packet (the head of
yolo-fastest-1.1-xl run on dog.jpg, 8-bit per-channel packet), the client
is edge_client.py, written from docs/PROTOCOL.md.  The server must finish
every cut with the unsplit model's boxes, and refuse a packet of another
model, cut or shape on that connection alone."""
import asyncio
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402

TOOL = os.environ.get("YOLOSWITCH_SPLIT_PACKET",
                      os.path.join(ec.ROOT, "build", "tests", "integration",
                                   "yoloswitch-split-packet"))
MODEL = "yolo-fastest-1.1-xl"
DOG = "dog.jpg"
# Early (a 160x160 handover), the smallest packet, just before the first
# detection layer, after it (its raw output handed over too), the last.
CUTS = (4, 61, 121, 125)
TENSOR_HEADER = 16


def make_packet(cut, bits=8):
    """(packet bytes, what the tool printed) for dog.jpg at `cut`."""
    with tempfile.NamedTemporaryFile(suffix=".split") as out:
        done = subprocess.run([TOOL, MODEL, DOG, str(cut), out.name, str(bits)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise AssertionError(f"{TOOL} failed: {done.stderr}")
        with open(out.name, "rb") as f:
            return f.read(), json.loads(done.stdout)


async def connect(url):
    return await websockets.connect(url, subprotocols=[ec.SUBPROTOCOL],
                                    max_size=None, ping_interval=None)


async def recv(ws, timeout=120):
    return ec.parse(await asyncio.wait_for(ws.recv(), timeout))


async def handshake(ws, codecs=(ec.TENSOR,)):
    await ws.send(ec.hello("split-test", codecs=codecs))
    reply = await recv(ws)
    assert reply["type"] == ec.HELLO, reply
    return reply


async def send_split(ws, frame_id, packet, size):
    """One split FRAME; (ACK, the answer after it)."""
    await ws.send(ec.frame(frame_id, ec.TENSOR, size[0], size[1], packet,
                           capture_us=500 + frame_id))
    ack = await recv(ws)
    return ack, await recv(ws)


async def expect_closed_after_error(ws):
    """Skips the ACK a refused-after-arrival frame gets; returns the ERROR,
    then asserts the server closes."""
    m = await recv(ws)
    if m["type"] == ec.ACK:
        m = await recv(ws)
    assert m["type"] == ec.ERROR, m
    try:
        extra = await asyncio.wait_for(ws.recv(), 60)
        raise AssertionError(f"connection still open, got {extra[:40]!r}")
    except websockets.ConnectionClosed:
        pass
    return m


def matches(want, got):
    """For each unsplit box at >= 0.5: the RESULT's best box of its class,
    as (class, IoU, confidence difference)."""
    pairs = []
    for d in want:
        if d["confidence"] < 0.5:
            continue
        best = max((g for g in got if g["class_id"] == d["class_id"]),
                   key=lambda g: ec.iou((d["x"], d["y"], d["w"], d["h"]),
                                        (g["x"], g["y"], g["w"], g["h"])),
                   default=None)
        if best is None:
            pairs.append((d["class_id"], 0.0, 1.0))
            continue
        pairs.append((d["class_id"],
                      ec.iou((d["x"], d["y"], d["w"], d["h"]),
                             (best["x"], best["y"], best["w"], best["h"])),
                      abs(best["confidence"] - d["confidence"])))
    return pairs


def zstd_packet(packet, declared=None, frame=None):
    """docs/PROTOCOL.md's compressed form of a plain packet: its header with
    flag 4 (ZSTD), a u32 (the rest's size, or `declared`), then one zstd
    frame of the rest that states its size (or `frame`).  Made with the
    zstd command, not our code."""
    rest = packet[TENSOR_HEADER:]
    if frame is None:
        frame = subprocess.run(
            ["zstd", "-1", "-c", "-q", f"--stream-size={len(rest)}"],
            input=rest, stdout=subprocess.PIPE, check=True).stdout
    header = bytearray(packet[:TENSOR_HEADER])
    header[2] |= 4
    return (bytes(header) + struct.pack("<I", len(rest) if declared is None
                                        else declared) + frame)


def with_header(packet, cut=None, model_hash=None):
    """The packet with its header's cut or hash replaced."""
    fmt, bits, flags, count, old_cut, reserved, old_hash = struct.unpack_from(
        "<BBBBHHQ", packet)
    header = struct.pack("<BBBBHHQ", fmt, bits, flags, count,
                         old_cut if cut is None else cut, reserved,
                         old_hash if model_hash is None else model_hash)
    return header + packet[TENSOR_HEADER:]


class EdgeSplitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.packets = {cut: make_packet(cut) for cut in CUTS}
        cls.server = ec.EdgeServer("--workers", "1", "--queue-depth", "4")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 600))

    def info(self, cut=61):
        return self.packets[cut][1]

    def test_server_finishes_every_cut_with_the_unsplit_boxes(self):
        """Each cut's packet as a FRAME: ACK of its bytes, then a RESULT at
        dog.jpg's size whose boxes are the unsplit model's (IoU >= 0.9)."""
        async def go():
            ws = await connect(self.server.url)
            hello = await handshake(ws)
            answers = {}
            for i, cut in enumerate(CUTS):
                packet, info = self.packets[cut]
                answers[cut] = await send_split(
                    ws, i + 1, packet, (info["width"], info["height"]))
            await ws.close()
            return hello, answers

        hello, answers = self.run_async(go())
        info = self.info()
        self.assertIn(ec.TENSOR, hello["codecs"])
        self.assertEqual(hello["model"], MODEL)
        self.assertEqual(f"{hello['model_hash']:016x}", info["hash"])
        self.assertGreaterEqual(
            sum(d["confidence"] >= 0.5 for d in info["detections"]), 3)
        for i, cut in enumerate(CUTS):
            ack, result = answers[cut]
            packet, _ = self.packets[cut]
            self.assertEqual(ack["type"], ec.ACK, (cut, ack))
            self.assertEqual(ack["bytes"], len(packet) + 9)
            self.assertEqual(result["type"], ec.RESULT, (cut, result))
            self.assertEqual((result["frame_id"], result["capture_us"]),
                             (i + 1, 501 + i))
            self.assertEqual((result["width"], result["height"]),
                             (info["width"], info["height"]))
            self.assertEqual(result["model"], MODEL)
            self.assertGreater(result["infer_us"], 0)
            for class_id, iou, dconf in matches(info["detections"],
                                                result["detections"]):
                self.assertGreaterEqual(iou, 0.9, (cut, class_id))
                self.assertLess(dconf, 0.05, (cut, class_id))

    def test_server_takes_compressed_packets(self):
        """A server that lists codec 17 in its HELLO finishes a packet in
        the compressed form as the plain one: the ACK counts the compressed
        bytes, the boxes are the unsplit model's."""
        packet, info = self.packets[61]
        packed = zstd_packet(packet)
        size = (info["width"], info["height"])

        async def go():
            ws = await connect(self.server.url)
            hello = await handshake(ws, codecs=(ec.TENSOR, ec.TENSOR_ZSTD))
            answer = await send_split(ws, 1, packed, size)
            await ws.close()
            return hello, answer

        hello, (ack, result) = self.run_async(go())
        self.assertIn(ec.TENSOR_ZSTD, hello["codecs"])
        self.assertEqual(ack["bytes"], len(packed) + 9)
        self.assertEqual(result["type"], ec.RESULT, result)
        for class_id, iou, dconf in matches(info["detections"],
                                            result["detections"]):
            self.assertGreaterEqual(iou, 0.9, class_id)
            self.assertLess(dconf, 0.05, class_id)

    def test_compressed_packet_of_another_size_is_malformed(self):
        """The size it declares is checked against the model's handover
        before a byte is decompressed; so is the size its zstd frame
        states (a 64 MiB bomb costs the server nothing)."""
        packet, _ = self.packets[61]
        rest = len(packet) - TENSOR_HEADER
        self.refused_while_another_client_is_served(
            zstd_packet(packet, declared=rest + 1), "malformed",
            ["takes %d" % rest])
        bomb = subprocess.run(
            ["zstd", "-1", "-c", "-q", f"--stream-size={64 << 20}"],
            input=bytes(64 << 20), stdout=subprocess.PIPE, check=True).stdout
        self.assertLess(len(bomb), 8 << 10)
        self.refused_while_another_client_is_served(
            zstd_packet(packet, frame=bomb), "malformed",
            ["another size than the packet says"])
        self.refused_while_another_client_is_served(
            zstd_packet(packet)[:-3], "malformed", ["zstd frame"])

    def refused_while_another_client_is_served(self, bad_packet, code, words):
        """bad_packet closes its own connection with ERROR `code` naming
        `words`, while a good client on the same server gets RESULTs before
        and after."""
        packet, info = self.packets[61]
        size = (info["width"], info["height"])

        async def go():
            good = await connect(self.server.url)
            await handshake(good)
            before = await send_split(good, 1, packet, size)
            bad = await connect(self.server.url)
            await handshake(bad)
            await bad.send(ec.frame(9, ec.TENSOR, *size, bad_packet))
            error = await expect_closed_after_error(bad)
            after = await send_split(good, 2, packet, size)
            await good.close()
            return before, error, after

        before, error, after = self.run_async(go())
        self.assertEqual(before[1]["type"], ec.RESULT, before)
        self.assertEqual(after[1]["type"], ec.RESULT, after)
        self.assertEqual(error["code"], code, error)
        for w in words:
            self.assertIn(w, error["text"])

    def test_wrong_model_hash_is_a_mismatch(self):
        packet, info = self.packets[61]
        self.refused_while_another_client_is_served(
            with_header(packet, model_hash=int(info["hash"], 16) ^ 1),
            "mismatch", ["model hash", info["hash"], MODEL])

    def test_cut_outside_the_model_is_a_mismatch(self):
        packet, info = self.packets[61]
        layers = info["layers"]
        for cut in (0, layers):
            with self.subTest(cut=cut):
                self.refused_while_another_client_is_served(
                    with_header(packet, cut=cut), "mismatch",
                    [f"cut {cut}", f"1 to {layers - 1}"])

    def test_wrong_tensor_shape_is_a_mismatch(self):
        """The first tensor's h doubled and w halved: the packet parses
        (the same values), but it is not the model's handover there."""
        packet, _ = self.packets[61]
        layer, c, h, w = struct.unpack_from("<HHHH", packet, TENSOR_HEADER)
        self.assertEqual(w % 2, 0)
        bad = (packet[:TENSOR_HEADER]
               + struct.pack("<HHHH", layer, c, h * 2, w // 2)
               + packet[TENSOR_HEADER + 8:])
        self.refused_while_another_client_is_served(
            bad, "mismatch", [f"{c}x{h * 2}x{w // 2}", f"{c}x{h}x{w}"])

    def test_truncated_packet_is_malformed(self):
        packet, _ = self.packets[61]
        self.refused_while_another_client_is_served(
            packet[:-1], "malformed", ["ends inside"])

    def test_packet_shorter_than_its_header_is_malformed(self):
        packet, _ = self.packets[61]
        self.refused_while_another_client_is_served(
            packet[:10], "malformed", ["16-byte header"])

    def test_tensor_frame_needs_the_codec_in_hello(self):
        """A client whose HELLO listed only MJPEG may not send tensors."""
        packet, info = self.packets[61]

        async def go():
            ws = await connect(self.server.url)
            await handshake(ws, codecs=(ec.MJPEG,))
            await ws.send(ec.frame(1, ec.TENSOR, info["width"],
                                   info["height"], packet))
            return await expect_closed_after_error(ws)

        error = self.run_async(go())
        self.assertEqual(error["code"], "unsupported", error)
        self.assertIn("tensor", error["text"])

    def test_metrics_count_the_mismatches(self):
        packet, info = self.packets[61]
        self.refused_while_another_client_is_served(
            with_header(packet, model_hash=1), "mismatch", ["model hash"])
        values = ec.metrics(self.server.port)
        self.assertGreaterEqual(
            values['yoloswitch_edge_errors_total{code="mismatch"}'], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
