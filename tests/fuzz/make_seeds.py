#!/usr/bin/python3
"""Writes the seed corpora of the protocol and decoder harnesses, and the
profile seeds, into tests/fuzz/*/corpus/:

    /usr/bin/python3 tests/fuzz/make_seeds.py

Messages are built with tests/integration/edge_client.py, the client written
from docs/PROTOCOL.md alone (not with offload/protocol.c, the code under
test).  Video comes from ffmpeg's own test source (lavfi testsrc), tiny
(64x48) so the corpus stays small; profiles are cut from
configs/vtest.profile.json.  The cfg and edge_config seeds are written by
hand.  Re-running gives the same files except where the encoder's version
changed its output."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from edge_client import (ACK, DROP, ERROR, FLAG_KEYFRAME, FLAG_NEED_KEYFRAME,  # noqa: E402
                         FLAG_SERVER, FRAME, H264, HELLO, MJPEG, PING, PONG,
                         RESULT, frame, hello, label_list, message, string)

DECODE_ONLY = 0x8000  # fuzz_decoder.c: decode without colour conversion


def write(harness, name, data):
    d = os.path.join(HERE, harness, "corpus")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


SERVER_LABELS = ["person", "bicycle", "car", "motorbike", "", "b\u00fccher"]


def server_hello(labels=SERVER_LABELS, extra=b""):
    """The server's HELLO; labels None: one from before the label list."""
    return message(HELLO, string("yoloswitch-edge") + string("")
                   + string("yolo-fastest-1.1-xl") + bytes([2, H264, MJPEG])
                   + struct.pack("<HHIHH", 256, 256, 1000, 4, 1)
                   + (label_list(labels) if labels is not None else b"")
                   + extra, flags=FLAG_SERVER)


def detection(class_id, conf, x, y, w, h, label):
    return struct.pack("<Hfffff", class_id, conf, x, y, w, h) + string(label)


def result(frame_id, detections):
    payload = struct.pack("<III", 1500, 800, 9000) + string("yolo-fastest-1.1-xl")
    payload += struct.pack("<HHH", 64, 48, len(detections)) + b"".join(detections)
    return message(RESULT, payload, frame_id=frame_id, config_id=3,
                   capture_us=123456789)


def protocol_seeds():
    dets = [detection(0, 0.9, 0.1, 0.2, 0.3, 0.4, "person"),
            detection(2, 0.55, 0.5, 0.5, 0.25, 0.125, "car")]
    seeds = {
        "hello-client": hello("camera-1", token="s3cret",
                              model="yolo-fastest-1.1", deadline_ms=200),
        "hello-server": server_hello(),
        "hello-server-no-list": server_hello(labels=None),
        # A later revision's server HELLO: its own field after the list.
        "hello-server-extended": server_hello(extra=b"\x01\x02\x03\x04"),
        "frame": frame(1, H264, 64, 48, b"\x00\x00\x00\x01\x65\x88\x84\x00",
                       capture_us=1000, config_id=1),
        "ack": message(ACK, struct.pack("<IQIH", 4096, 987654321, 2500, 1),
                       frame_id=1, config_id=1, capture_us=1000),
        "result": result(7, dets),
        "result-empty": result(8, []),
        "drop": message(DROP, bytes([3]), flags=FLAG_NEED_KEYFRAME, frame_id=9),
        "ping": message(PING, capture_us=42),
        "pong": message(PONG, capture_us=42),
        "error": message(ERROR, struct.pack("<H", 6) + string(
            "FRAME before HELLO: send HELLO first")),
        "bad-version": message(PING, version=1),
        "too-large": message(FRAME)[:24] + struct.pack("<I", 1 << 30),
    }
    # A later revision's client HELLO: fields after ours are skipped; they
    # come after the label list, so it says 0 labels first.
    ext = bytearray(seeds["hello-client"])
    ext += b"\x00\x00\x01\x02\x03\x04"
    struct.pack_into("<I", ext, 24, len(ext) - 28)
    seeds["hello-extended"] = bytes(ext)
    seeds["stream"] = (seeds["hello-client"] + seeds["frame"]
                       + message(PING, capture_us=43) + seeds["result"])
    for name, data in seeds.items():
        write("protocol", name, data)


def ffmpeg(args, out):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10", *args, out], check=True)


def access_units(stream):
    """Annex B stream -> access units, split at access unit delimiters."""
    marks = []
    i = 0
    while True:
        i = stream.find(b"\x00\x00\x01\x09", i)
        if i < 0:
            break
        start = i - 1 if i > 0 and stream[i - 1] == 0 else i
        marks.append(start)
        i += 4
    marks.append(len(stream))
    return [stream[a:b] for a, b in zip(marks, marks[1:]) if b > a]


def is_idr(au):
    i = 0
    while True:
        i = au.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= len(au):
            return False
        if au[i + 3] & 0x1F == 5:
            return True
        i += 3


def h264(tmp, name, frames, extra):
    out = os.path.join(tmp, name + ".h264")
    ffmpeg(["-frames:v", str(frames), "-c:v", "libx264", "-preset",
            "ultrafast", "-pix_fmt", "yuv420p", "-g", "3", *extra,
            "-x264-params", "repeat-headers=1", "-bsf:v",
            "h264_metadata=aud=insert", "-f", "h264"], out)
    with open(out, "rb") as f:
        return access_units(f.read())


def frames_of(codec, packets, first_id=1, decode_only=()):
    data = b""
    for n, (packet, key) in enumerate(packets):
        m = bytearray(frame(first_id + n, codec, 64, 48, packet, keyframe=key))
        if n in decode_only:
            struct.pack_into("<H", m, 4, struct.unpack_from("<H", m, 4)[0]
                             | DECODE_ONLY)
        data += bytes(m)
    return data


def decoder_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        ip = h264(tmp, "ip", 6, ["-bf", "0"])
        bframes = h264(tmp, "b", 8, ["-bf", "2"])
        jpegs = []
        for k, fmt in enumerate(["yuvj420p", "yuvj422p"]):
            out = os.path.join(tmp, f"{k}.jpg")
            ffmpeg(["-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", fmt,
                    "-q:v", "8", "-f", "image2"], out)
            with open(out, "rb") as f:
                jpegs.append(f.read())
    ip_frames = [(au, is_idr(au)) for au in ip]
    write("decoder", "h264-ip", frames_of(H264, ip_frames))
    write("decoder", "h264-decode-only",
          frames_of(H264, ip_frames, decode_only=(1, 2)))
    # Stock libx264 settings reorder frames: the case of issue 13 point 6.
    write("decoder", "h264-bframes",
          frames_of(H264, [(au, is_idr(au)) for au in bframes]))
    # A P frame first: the decoder must wait for a keyframe.
    write("decoder", "h264-no-keyframe-first",
          frames_of(H264, ip_frames[1:3] + ip_frames[:2]))
    write("decoder", "mjpeg", frames_of(MJPEG, [(j, True) for j in jpegs]))
    write("decoder", "codec-switch",
          frames_of(MJPEG, [(jpegs[0], True)])
          + frames_of(H264, ip_frames[:2], first_id=2))


def profile_seeds():
    with open(os.path.join(ROOT, "configs", "vtest.profile.json")) as f:
        full = json.load(f)
    local = [c for c in full["configs"] if c["path"] == "local"][:2]
    edge = [c for c in full["configs"] if c["path"] == "edge"]
    edge = [edge[0], edge[-1]]
    small = dict(full, configs=local + edge)
    write("profile", "vtest-cut.json",
          json.dumps(small, indent=1).encode() + b"\n")
    write("profile", "edge-only.json", json.dumps(
        dict(full, configs=edge[:1], machine=None)).encode())
    write("profile", "local-only.json", json.dumps(
        {k: v for k, v in dict(full, configs=local[:1]).items()
         if k not in ("machine", "created")}).encode())


def tensor_packet(bits, flags, cut, tensors, model_hash=0x0123456789ABCDEF):
    """offload/tensor_packet.h's layout, written from its comment: tensors
    are (layer, c, h, w, ranges, codes) with ranges [(lo, scale)]."""
    out = struct.pack("<BBBBHHQ", 1, bits, flags, len(tensors), cut, 0,
                      model_hash)
    for layer, c, h, w, ranges, codes in tensors:
        out += struct.pack("<HHHH", layer, c, h, w)
        for lo, scale in ranges:
            out += struct.pack("<ff", lo, scale)
        assert len(codes) == (c * h * w * bits + 7) // 8
        out += codes
    return out


def tensor_packet_seeds():
    codes = lambda n: bytes((i * 37 + 11) % 256 for i in range(n))  # noqa: E731
    write("tensor_packet", "one-8bit", tensor_packet(
        8, 0, 5, [(4, 3, 4, 5, [(-1.5, 0.02)], codes(60))]))
    write("tensor_packet", "two-6bit-per-channel", tensor_packet(
        6, 1, 12, [(3, 2, 3, 3, [(-1.0, 0.1), (0.0, 0.05)], codes(14)),
                   (9, 3, 2, 2, [(0.0, 1.0)] * 3, codes(9))]))
    write("tensor_packet", "4bit-odd-tail", tensor_packet(
        4, 0, 2, [(1, 1, 1, 3, [(2.0, 0.5)], codes(2))]))


def split_decode_seeds():
    """Packets for fuzz_split_decode.c's layout (cut 12: layer 3, 2x3x3 and
    layer 9, 3x2x2), plain and as offload/split_zstd.h's compressed form
    (the header with flag 4, u32 size of the rest, one zstd frame of it:
    made with the zstd command, which states the content size)."""
    codes = lambda n: bytes((i * 37 + 11) % 256 for i in range(n))  # noqa: E731
    for bits in (8, 4):
        n = lambda v: (v * bits + 7) // 8  # noqa: E731
        plain = tensor_packet(bits, 1, 12, [
            (3, 2, 3, 3, [(-1.0, 0.1), (0.0, 0.05)], codes(n(18))),
            (9, 3, 2, 2, [(0.0, 1.0)] * 3, codes(n(12)))])
        write("split_decode", f"plain-{bits}bit", plain)
        rest = plain[16:]
        frame = subprocess.run(
            ["zstd", "-1", "-c", "-q", f"--stream-size={len(rest)}"],
            input=rest, stdout=subprocess.PIPE, check=True).stdout
        header = bytearray(plain[:16])
        header[2] |= 4
        write("split_decode", f"zstd-{bits}bit",
              bytes(header) + struct.pack("<I", len(rest)) + frame)


def weights_q8_seeds():
    """YSQ8 files (yolo/weights_q8.h) for fuzz_weights_q8.c's cfg (a 4-filter
    3x3 convolution with batch norm on 3 channels, then 18 1x1 filters
    without), without their SHA-256: the harness appends it when the first
    byte is even.  A second seed stores the second layer as verbatim floats
    (kind 2).  The zstd frame is made with the zstd command (content size
    stated)."""
    def planes(values):
        raw = b"".join(struct.pack("<f", v) for v in values)
        return bytes(raw[i * 4 + k] for k in range(4) for i in range(len(values)))

    def conv(filters, per):
        codes = bytes(((i * 37 + 11) % 255) - 127 & 0xFF for i in range(filters * per))
        return (struct.pack("<BBBBII", 1, 0, 0, 0, filters, per)
                + planes([0.1 * i for i in range(filters)])
                + planes([0.01] * filters) + codes)

    def floats(n):
        return (struct.pack("<BBBBII", 2, 0, 0, 0, n, 0)
                + b"".join(struct.pack("<f", 0.5 - i / n) for i in range(n)))

    darknet_header = struct.pack("<iiiQ", 0, 2, 0, 0)
    for name, blocks in (("two-convs", conv(4, 27) + conv(18, 4)),
                         ("conv-then-floats", conv(4, 27) + floats(18 + 18 * 4))):
        frame = subprocess.run(
            ["zstd", "-19", "-c", "-q", f"--stream-size={len(blocks)}"],
            input=blocks, stdout=subprocess.PIPE, check=True).stdout
        body = (b"YSQ8" + struct.pack("<IIIQ", 1, len(darknet_header), 0, len(blocks))
                + darknet_header + frame)
        write("weights_q8", name, b"\x00" + body)


def http_range_seeds():
    """Range headers against files of a few sizes (5 bytes, little-endian,
    then the header's text)."""
    def size(n):
        return n.to_bytes(5, "little")
    for name, n, text in (("first-last", 1000, b"bytes=0-99"),
                          ("open-end", 1000, b"bytes=500-"),
                          ("suffix", 1000, b"bytes=-50"),
                          ("past-end", 1000, b"bytes=1000-"),
                          ("spaces", 3693964, b" bytes = 3000000 - "),
                          ("two-ranges", 1000, b"bytes=0-1,5-9"),
                          ("inverted", 1000, b"bytes=9-5"),
                          ("empty-file", 0, b"bytes=-1"),
                          ("long-number", 1000, b"bytes=1234567890123456789-")):
        write("http_range", name, size(n) + text)


def catalog_profile_seeds():
    """Profiles as the edge catalog reads them: a cut of
    configs/vtest.profile.json, and rows of the wrong kinds."""
    with open(os.path.join(ROOT, "configs", "vtest.profile.json")) as f:
        p = json.load(f)
    p["configs"] = [c for c in p["configs"] if c["path"] == "local"][:3] + \
        [c for c in p["configs"] if c["path"] != "local"][:1]
    write("catalog_profile", "vtest-cut", json.dumps(p).encode())
    odd = {"reference_model": 7, "machine": ["x"], "video": "v",
           "configs": [{"path": "local", "model": "m", "width": "320",
                        "height": 320, "iou_accuracy": 2, "f1": 0.5,
                        "infer_ms": 1},
                       {"path": "local", "model": "m", "width": 320.5,
                        "height": 1e9, "iou_accuracy": 0.5, "f1": 0.5,
                        "infer_ms": -1}, 3, None]}
    write("catalog_profile", "wrong-kinds", json.dumps(odd).encode())


def model_catalog_seeds():
    """GET /models answers as a device reads them: one model "m" (flags
    byte 0) listed whole, with an 8-bit variant (flags 1), and broken."""
    sha = "ab" * 32

    def f(name, role, n=100):
        return {"file": name, "role": role, "bytes": n, "sha256": sha,
                "url": f"/models/m/{name}"}
    m = {"name": "m", "version": "1", "sha256": sha,
         "input": {"width": 320, "height": 320, "channels": 3},
         "classes": 1, "labels": "m.names",
         "files": [f("m.cfg", "cfg"), f("m.weights", "weights"),
                   f("m.q8.weights", "weights-q8"), f("m.names", "labels")],
         "variants": [], "accuracy": [{"input": "320x320", "iou_accuracy": 0.5,
                                       "f1": 0.6, "reference": "r", "video": "v",
                                       "profile": "p"}],
         "latency_ms": []}
    doc = {"schema": "yoloswitch-catalog/1", "generation": 1, "models": [m],
           "refused": []}
    write("model_catalog", "one-model", b"\x00" + json.dumps(doc).encode())
    write("model_catalog", "one-model-int8", b"\x01" + json.dumps(doc).encode())
    bad = json.loads(json.dumps(doc))
    bad["models"][0]["files"][0]["file"] = "../../etc/passwd"
    bad["models"][0]["files"][1]["sha256"] = "XYZ"
    write("model_catalog", "bad-names", b"\x00" + json.dumps(bad).encode())
    write("model_catalog", "not-a-catalog", b"\x00" + b'{"models": 3}')


if __name__ == "__main__":
    protocol_seeds()
    decoder_seeds()
    profile_seeds()
    tensor_packet_seeds()
    split_decode_seeds()
    weights_q8_seeds()
    http_range_seeds()
    catalog_profile_seeds()
    model_catalog_seeds()
