"""The two kinds of client bench/soak.py runs against yoloswitch-edge, and
how each one's frames are accounted for.

- PacedClient: a Python client written from docs/PROTOCOL.md
  (tests/integration/edge_client.py) that replays canned H.264 packets at a
  fixed rate over one WebSocket connection and records, for every frame id
  it sends, the RESULT or DROP (with its reason) that came back.  One of
  them can close and reconnect every few minutes, so the server's
  connection teardown is soaked too.
- Pipeline: real gst-launch-1.0 runs through yolooffload mode=sync into
  yolojson, paced at the video's 10 frames/s (identity sync=true).  Kind
  "loop" is one pipeline for the whole soak, looping over vtest.avi's frames
  (decoded once into JPEG files, replayed by multifilesrc loop=true), so
  client-side memory is soaked too; kind "passes" plays vtest.avi itself,
  one pipeline run per pass of the file, restarted until the time is up.
"""
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
import edge_client as ec  # noqa: E402
import websockets  # noqa: E402

from offload_link import HEIGHT, WIDTH  # noqa: E402

# How long a frame still in flight at a close (reconnect or the end) may
# take to get its answer before it counts as unanswered.
DRAIN_S = 30


class PacedClient:
    """Sends one frame every 1/fps s (never more than the server's
    queue_depth in flight: a tick that finds the window full is counted as
    skipped, not sent); each frame id is sent once, ids rise across
    reconnections."""

    def __init__(self, index, url, packets, fps, reconnect_s):
        self.index, self.url, self.packets = index, url, packets
        self.fps, self.reconnect_s = fps, reconnect_s
        self.keyframes = [i for i, (_, key) in enumerate(packets) if key]
        self.sent = self.results = self.acks = self.skipped = 0
        self.drops = collections.Counter()
        self.unanswered = 0      # still in flight DRAIN_S after a close
        self.stray = 0           # answers to ids not in flight, or twice
        self.problems = []       # ERRORs, unexpected closes (text)
        self.connections = 0
        self.max_answer_ms = 0.0
        self.next_id = 1
        self.need_keyframe = False  # a DROP said the server's decoder lost its reference

    def summary(self):
        return {"client": f"python-{self.index}", "connections": self.connections,
                "sent": self.sent, "results": self.results, "acks": self.acks,
                "drops": dict(self.drops), "unanswered": self.unanswered,
                "stray": self.stray, "skipped": self.skipped,
                "max_answer_ms": self.max_answer_ms, "problems": self.problems}

    async def run(self, stop_at):
        # Clients start spread over one frame interval, not in step.
        await asyncio.sleep(self.index / (self.fps * 8))
        # No new connection for less than two frames' time.
        while stop_at - time.monotonic() > 2 / self.fps:
            until = stop_at
            if self.reconnect_s:
                until = min(stop_at, time.monotonic() + self.reconnect_s)
            try:
                await self.session(until)
            except Exception as e:  # noqa: BLE001 (a broken message too): noted, FAILs
                self.problems.append(f"connection {self.connections}: {e!r}")
                await asyncio.sleep(1)

    async def session(self, until):
        in_flight = {}  # frame id -> send time (monotonic s)
        answered = asyncio.Event()
        async with websockets.connect(self.url, subprotocols=[ec.SUBPROTOCOL],
                                      max_size=None, ping_interval=None) as ws:
            self.connections += 1
            await ws.send(ec.hello(f"soak-{self.index}", codecs=(ec.H264,)))
            hello = ec.parse(await ws.recv())
            if hello["type"] != ec.HELLO:
                self.problems.append(f"answer to HELLO: {hello}")
                return
            window = max(1, hello["queue_depth"])
            receiver = asyncio.create_task(self.receive(ws, in_flight, answered))
            try:
                await self.send_paced(ws, until, window, in_flight)
                end = time.monotonic() + DRAIN_S
                while in_flight and time.monotonic() < end and not receiver.done():
                    answered.clear()
                    try:
                        await asyncio.wait_for(answered.wait(), end - time.monotonic())
                    except asyncio.TimeoutError:
                        break
            finally:
                self.unanswered += len(in_flight)
                in_flight.clear()
                receiver.cancel()

    async def send_paced(self, ws, until, window, in_flight):
        at = 0  # packet index: each connection starts at the first keyframe
        tick = time.monotonic()
        while True:
            tick += 1.0 / self.fps
            now = time.monotonic()
            if tick >= until:
                return
            if tick > now:
                await asyncio.sleep(tick - now)
            if self.need_keyframe:
                at = next((k for k in self.keyframes if k > at), 0)
                self.need_keyframe = False
            if len(in_flight) >= window:
                self.skipped += 1
                continue
            packet, key = self.packets[at % len(self.packets)]
            at = (at + 1) % len(self.packets)
            frame_id, self.next_id = self.next_id, self.next_id + 1
            in_flight[frame_id] = time.monotonic()
            self.sent += 1
            await ws.send(ec.frame(frame_id, ec.H264, WIDTH, HEIGHT, packet, keyframe=key,
                                   capture_us=int(time.monotonic() * 1e6)))

    async def receive(self, ws, in_flight, answered):
        try:
            async for data in ws:
                m = ec.parse(data)
                if m["type"] == ec.ACK:
                    self.acks += 1
                elif m["type"] in (ec.RESULT, ec.DROP):
                    sent_at = in_flight.pop(m["frame_id"], None)
                    if sent_at is None:
                        self.stray += 1
                        continue
                    self.max_answer_ms = max(self.max_answer_ms,
                                             (time.monotonic() - sent_at) * 1e3)
                    if m["type"] == ec.RESULT:
                        self.results += 1
                    else:
                        self.drops[m["reason"]] += 1
                    if m["flags"] & ec.FLAG_NEED_KEYFRAME:
                        self.need_keyframe = True
                    answered.set()
                elif m["type"] == ec.ERROR:
                    self.problems.append(f"ERROR {m['code']}: {m['text']}")
        except websockets.ConnectionClosed as e:
            self.problems.append(f"closed by the server: {e!r}")
        answered.set()


def edge_record(frame):
    """The frame's own edge record (not one a newer result replaced), or
    None when it has none or several."""
    records = [r for r in frame.get("results", [])
               if r.get("source") == "edge" and r.get("status") != "superseded"]
    return records[0] if len(records) == 1 else None


def account(path):
    """What one yolojson file says: frames, results, missing by reason, and
    the frames not accounted for (no record of their own, or numbered out
    of order)."""
    out = {"frames": 0, "results": 0, "missing": collections.Counter(), "unaccounted": 0}
    if not os.path.exists(path):
        return out
    with open(path) as lines:  # an hour's file is ~50 MB: one line at a time
        for n, line in enumerate(lines):
            out["frames"] += 1
            try:
                account_frame(out, n, json.loads(line))
            except ValueError:  # a line cut by a killed pipeline
                out["unaccounted"] += 1
    return out


def account_frame(out, n, f):
    r = edge_record(f)
    if f.get("frame") != n or r is None:
        out["unaccounted"] += 1
    elif r["status"] == "ok":
        out["results"] += 1
    elif r["status"] == "none" and r.get("reason"):
        out["missing"][r["reason"]] += 1
    else:
        out["unaccounted"] += 1


class Pipeline(threading.Thread):
    """Runs gst-launch-1.0 runs of one kind until stop_at, then stops the
    running one with SIGINT (gst-launch -e: EOS, so every held frame is
    still answered and written).  Each run is checked: exit code 0, one
    record per frame with a result or a missing-result reason, and (a pass
    the soak did not cut) every frame of the file."""

    BUDGET_MS = 2000  # a camera's budget; a miss is accounted, not a failure

    def __init__(self, index, kind, url, tmp, env, jpeg_dir, file_frames, stop_at):
        super().__init__(daemon=True)
        self.index, self.kind, self.url, self.tmp, self.env = index, kind, url, tmp, env
        self.jpeg_dir, self.file_frames, self.stop_at = jpeg_dir, file_frames, stop_at
        self.runs = []
        self.pid = None

    def source(self):
        if self.kind == "loop":
            return ["multifilesrc", f"location={self.jpeg_dir}/%04d.jpg", "loop=true",
                    "caps=image/jpeg,framerate=10/1", "!", "jpegdec", "!", "videoconvert", "!",
                    "identity", "sync=true", "!"]
        return ["filesrc", f"location={ec.VIDEO}", "!", "decodebin", "!", "videoconvert", "!",
                "identity", "sync=true", "!"]

    def run(self):
        # A run started in the last seconds would be cut before it plays.
        while time.monotonic() < self.stop_at - 15:
            try:
                self.runs.append(self.one_run(len(self.runs)))
            except Exception as e:  # noqa: BLE001 (a bug here must FAIL the soak, not hide)
                self.runs.append({"run": len(self.runs), "frames": 0, "results": 0,
                                  "missing": collections.Counter(), "unaccounted": 0,
                                  "exit": None, "cut": False, "peak_mb": 0, "cpu_s": 0,
                                  "problems": [f"the run failed: {e!r}"]})
                time.sleep(5)

    def one_run(self, n):
        name = os.path.join(self.tmp, f"pipeline{self.index}-{n}")
        cmd = ["gst-launch-1.0", "-e", "-m", *self.source(), "yolooffload",
               f"server={self.url}", "mode=sync", f"latency-budget-ms={self.BUDGET_MS}",
               "on-missing-result=warn", "stats-interval-ms=60000", "!",
               "yolojson", f"location={name}.jsonl", "!", "fakesink"]
        started = time.monotonic()
        with open(name + ".log", "w+") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
            self.pid = proc.pid
            cut = threading.Event()

            def stop():
                cut.set()
                os.kill(proc.pid, signal.SIGINT)
            timer = threading.Timer(max(0, self.stop_at - started), stop)
            killer = threading.Timer(max(0, self.stop_at - started) + 120, proc.kill)
            timer.start()
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
                killer.cancel()
            self.pid = None
            proc.returncode = os.waitstatus_to_exitcode(status)
            log.seek(0)
            output = log.read()
        r = account(name + ".jsonl")
        r.update(run=n, exit=proc.returncode, cut=cut.is_set(), peak_mb=usage.ru_maxrss / 1024,
                 seconds=time.monotonic() - started, cpu_s=usage.ru_utime + usage.ru_stime)
        try:
            r["frames_sent"] = int(ec.last_stats(output)["frames-sent"])
        except (AssertionError, KeyError, ValueError):
            r["frames_sent"] = None
        problems = []
        if r["exit"] != 0:
            problems.append(f"exit code {r['exit']}: {output[-600:]!r}")
        if r["unaccounted"]:
            problems.append(f"{r['unaccounted']} frames without a record of their own")
        # Frames may pass unsent (in-flight-limit), never sent yet unrecorded.
        if r["frames_sent"] is None or r["frames_sent"] > r["frames"]:
            problems.append(f"stats say {r['frames_sent']} frames sent, "
                            f"yolojson has {r['frames']}")
        if self.kind == "passes" and not r["cut"] and r["frames"] != self.file_frames:
            problems.append(f"a whole pass wrote {r['frames']} of {self.file_frames} frames")
        if self.kind == "loop" and not r["cut"]:
            problems.append("the looping pipeline ended before the soak did")
        r["problems"] = problems
        return r


def rss_mb(pid):
    """VmRSS of a running process in MB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, TypeError):
        pass
    return None
