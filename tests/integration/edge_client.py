"""A yoloswitch.v2 client written from docs/PROTOCOL.md alone, with Debian's
python3-websockets, and a helper that runs the real yoloswitch-edge binary.

Kept independent of offload/protocol.c on purpose: if the C code and the
document disagree, the tests using this module fail."""
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EDGE = os.environ.get("YOLOSWITCH_EDGE",
                      os.path.join(ROOT, "build", "offload", "yoloswitch-edge"))
SUBPROTOCOL = "yoloswitch.v2"

HELLO, FRAME, ACK, RESULT, DROP, PING, PONG, ERROR = range(1, 9)
FLAG_KEYFRAME, FLAG_NEED_KEYFRAME, FLAG_SERVER = 1, 2, 4
H264, MJPEG, TENSOR, TENSOR_ZSTD = 1, 2, 16, 17
DROP_REASONS = {1: "deadline", 2: "overload", 3: "decode-error", 4: "shutdown",
                5: "backlog", 6: "model-changed"}
ERRORS = {1: "malformed", 2: "version", 3: "too-large", 4: "unauthorized",
          5: "unsupported", 6: "sequence", 7: "shutdown", 8: "internal",
          9: "mismatch"}

HEADER = struct.Struct("<2sBBHHIIQI")
assert HEADER.size == 28


def message(msg_type, payload=b"", flags=0, frame_id=0, config_id=0,
            capture_us=0, version=2):
    return HEADER.pack(b"YS", version, msg_type, flags, 0, frame_id, config_id,
                       capture_us, len(payload)) + payload


def string(text):
    data = text.encode()
    return struct.pack("<H", len(data)) + data


def hello(name, token="", model="", codecs=(H264, MJPEG), deadline_ms=0):
    return message(HELLO, string(name) + string(token) + string(model)
                   + bytes([len(codecs), *codecs])
                   + struct.pack("<HHIHH", 0, 0, deadline_ms, 0, 0))


def label_list(labels):
    """The bytes a server's HELLO appends after `workers`: u16 label_count,
    then the labels as strings."""
    return struct.pack("<H", len(labels)) + b"".join(string(l) for l in labels)


def frame(frame_id, codec, width, height, packet, keyframe=True,
          deadline_ms=0, capture_us=0, config_id=0):
    return message(FRAME, struct.pack("<BHHI", codec, width, height,
                                      deadline_ms) + packet,
                   flags=FLAG_KEYFRAME if keyframe else 0, frame_id=frame_id,
                   capture_us=capture_us, config_id=config_id)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string(self):
        n = self.take("H")
        text = self.data[self.at:self.at + n].decode()
        self.at += n
        return text


def parse(data):
    """One binary WebSocket message -> dict; asserts the layout."""
    magic, version, msg_type, flags, _, frame_id, config_id, capture_us, \
        length = HEADER.unpack_from(data)
    assert magic == b"YS" and version == 2, data[:4]
    assert len(data) == HEADER.size + length, (len(data), length)
    m = {"type": msg_type, "flags": flags, "frame_id": frame_id,
         "config_id": config_id, "capture_us": capture_us}
    r = Reader(data[HEADER.size:])
    if msg_type == HELLO:
        m["name"], m["token"], m["model"] = r.string(), r.string(), r.string()
        n = r.take("B")
        m["codecs"] = list(r.data[r.at:r.at + n])
        r.at += n
        m["net_width"], m["net_height"], m["deadline_ms"] = r.take("HHI")
        m["queue_depth"], m["workers"] = r.take("HH")
        # The server's label list: a HELLO that ends at `workers` (an older
        # server, or a client) or says 0 labels has none; bytes after the
        # list are a later revision's, skipped.
        m["labels"] = []
        m["model_hash"] = 0
        if r.at < len(r.data):
            assert len(r.data) - r.at >= 2, "HELLO ends inside label_count"
            count = r.take("H")
            assert count <= 1000, count
            for _ in range(count):
                label = r.string()
                assert len(label.encode()) <= 64, label
                m["labels"].append(label)
        # Then the server's model hash (split FRAMEs name it).
        if r.at < len(r.data):
            assert len(r.data) - r.at >= 8, "HELLO ends inside model_hash"
            m["model_hash"] = r.take("Q")
    elif msg_type == ACK:
        (m["bytes"], m["receive_us"], m["receive_span_us"],
         m["queue_depth"]) = r.take("IQIH")
    elif msg_type == RESULT:
        m["queue_us"], m["decode_us"], m["infer_us"] = r.take("III")
        m["model"] = r.string()
        m["width"], m["height"], count = r.take("HHH")
        m["detections"] = []
        for _ in range(count):
            class_id, conf, x, y, w, h = r.take("Hfffff")
            m["detections"].append({"class_id": class_id, "confidence": conf,
                                    "x": x, "y": y, "w": w, "h": h,
                                    "label": r.string()})
    elif msg_type == DROP:
        m["reason"] = DROP_REASONS.get(r.take("B"), "unknown")
    elif msg_type == ERROR:
        code = r.take("H")
        m["code"], m["text"] = ERRORS.get(code, code), r.string()
    if msg_type != HELLO:
        assert r.at == len(r.data), "payload bytes left over"
    return m


def iou(a, b):
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class EdgeServer:
    """Runs build/offload/yoloswitch-edge on loopback (a free port, or the
    given one for restarts); always stopped (SIGKILL as a last resort) by
    stop() or the context manager."""

    def __init__(self, *args, port=0):
        self.log = tempfile.NamedTemporaryFile("w+", prefix="edge-",
                                               suffix=".log")
        self.proc = subprocess.Popen([EDGE, "--port", str(port), *args],
                                     stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith(("listening on ws://", "listening on wss://")):
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"edge server did not start: {line!r}\n"
                                 f"{self.stderr()}")
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def terminate(self, timeout=60):
        """SIGTERM, then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("edge server ignored SIGTERM")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def last_stats(gst_output):
    """The fields of the last yoloswitch-offload-stats message that
    gst-launch-1.0 -m printed, as strings (tests and bench/ use it)."""
    lines = [l for l in gst_output.splitlines() if "yoloswitch-offload-stats," in l]
    if not lines:
        raise AssertionError("no yoloswitch-offload-stats message:\n" + gst_output[-2000:])
    fields = lines[-1].split("yoloswitch-offload-stats,", 1)[1]
    return dict(re.findall(r"([a-z-]+)=\([a-z0-9]+\)\"?([^,;\"]*)", fields))


def self_signed_certificate(directory):
    """A throw-away certificate for 127.0.0.1 (openssl CLI): returns
    (cert.pem, key.pem).  The name is an IP address in subjectAltName and
    in the CN, so both Python's and libwebsockets' host checks accept it."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def wait_for(predicate, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# Tests about attribution and accounting (each frame's own result, the
# reason for each missing one) give frames a budget no loaded machine comes
# near, so that load changes when results come, not which frames get one.
GENEROUS_BUDGET_MS = 30000


def wait_for_frames(path, predicate, count, proc=None, timeout=120):
    """Waits until the JSON-lines file `path` (yolojson flushes each line)
    holds `count` frames for which predicate(frame) is true; False on
    timeout or when `proc` ended first."""
    def enough():
        try:
            frames = read_jsonl(path)
        except (FileNotFoundError, ValueError):  # not there, or mid-line
            return False
        return sum(1 for f in frames if predicate(f)) >= count
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if enough():
            return True
        if proc is not None and proc.poll() is not None:
            return enough()
        time.sleep(0.1)
    return False


def runs(values):
    """Run-length encoding: [[value, count], ...] in order."""
    out = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return out


# ---- pipelines ----

SHARED = os.environ.get("YOLOSWITCH_SHARED_DIR",
                        os.path.join(ROOT, "..", "shared"))
VIDEO = os.path.join(SHARED, "data", "vtest.avi")


def head(n, realtime=False):
    """The first n frames of vtest.avi, decoded; at its 10 frames/s when
    realtime (identity sync=true), else as fast as possible."""
    pipeline = ["filesrc", f"location={VIDEO}", "!", "parsebin", "!",
                "identity", f"eos-after={n + 1}", "!", "decodebin", "!",
                "videoconvert", "!"]
    if realtime:
        pipeline += ["identity", "sync=true", "!"]
    return pipeline


def metrics(port, timeout=30):
    """The edge server's /metrics on loopback as {series: value}, a series
    being its name with labels, e.g. 'yoloswitch_edge_clients' or
    'yoloswitch_edge_frames_dropped_total{reason="deadline"}'."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=timeout) as r:
        body = r.read().decode()
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
