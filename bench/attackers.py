"""Hostile clients for bench/edge_attack.py, one thread per client, all of
one kind in a process of their own: the Python work of 64 attackers must
not stall the measuring client's event loop (its latencies), and the
process's CPU is measured apart.  They are the attacks of
tests/integration/test_edge_hostile.py and test_edge_frames.py, on the
same raw socket client (raw_ws.py), but kept up: a client the server
closes or refuses comes back at once (after RETRY_S), as an attacker would.

Each client binds its own loopback address (127.K.x.y, Linux routes all of
127/8 to lo), so --max-per-address does not make an attack trivial: what
holds them back must be the server-wide limits."""
import os
import random
import select
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
import edge_client as ec  # noqa: E402
from raw_ws import RawWs, ws_frame  # noqa: E402

RETRY_S = 0.1  # after a 503 or a close, before the next connection
WIDTH, HEIGHT = 640, 480
FLOOD_FRAME_BYTES = 1 << 20  # five of them overrun --max-pending-bytes (4 MiB)
FLOOD_BURST = 5


class _Forget(list):
    """RawWs keeps every socket for its tests' close_all; an attacker opens
    thousands, and closes each itself."""

    def append(self, item):
        pass


RawWs.opened = _Forget()


class Attack:
    """Shared state of one kind's clients: counters, the sockets open now
    (shut down at stop, so no thread stays blocked in a send)."""

    def __init__(self, port, token, assets, camera_fps):
        self.port, self.token, self.assets = port, token, assets
        self.camera_fps = camera_fps
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.counts = {}
        self.live = set()
        self.upgraded_now = 0
        self.upgraded_max = 0
        self.helloed = set()
        self.helloed_max = 0

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def open(self, source, **kw):
        """A connection past the upgrade, or None (503, refused, reset):
        counted either way."""
        try:
            c = RawWs(self.port, source, **kw)
        except (OSError, EOFError, ValueError, IndexError):
            self.count("upgrade failed")
            self.stopping.wait(RETRY_S)
            return None
        if c.status != 101:
            self.count(f"HTTP {c.status}")
            c.close()
            self.stopping.wait(RETRY_S)
            return None
        with self.lock:
            self.live.add(c)
            self.upgraded_now += 1
            self.upgraded_max = max(self.upgraded_max, self.upgraded_now)
            self.counts["upgraded"] = self.counts.get("upgraded", 0) + 1
        return c

    def close(self, c):
        with self.lock:
            if c in self.live:
                self.live.discard(c)
                self.upgraded_now -= 1
            self.helloed.discard(c)
        c.close()

    def close_code(self, c):
        """Reads to the server's close; counts its code."""
        code, _ = c.until_close()
        self.count(f"closed {code}")

    def hello(self, c, name, token=None):
        """HELLO (the right token unless told); True if the server's came."""
        c.send(ec.hello(name, token=self.token if token is None else token))
        m = c.recv_message()
        if m is None or m["type"] != ec.HELLO:
            self.count("HELLO refused")
            return False
        self.past_hello(c)
        return True

    def past_hello(self, c):
        with self.lock:
            self.helloed.add(c)
            self.helloed_max = max(self.helloed_max, len(self.helloed))

    def stop(self):
        self.stopping.set()
        with self.lock:
            live = list(self.live)
        for c in live:
            try:
                c.sock.shutdown(2)
            except OSError:
                pass


def non_reader(a, index, source):
    """HELLO (it has the token: the worst case), then PINGs and FRAMEs as
    fast as the socket takes them, never reading again; the server stops reading
    it and closes it after --send-stall-ms."""
    pings = b"".join(ws_frame(ec.message(ec.PING, capture_us=n)) for n in range(2000))
    frame_id = 0
    while not a.stopping.is_set():
        c = a.open(source, rcvbuf=4096)
        if c is None:
            continue
        try:
            # Its HELLO's answer is the one message it reads.
            if not a.hello(c, f"non-reader-{index}"):
                a.close(c)
                continue
            while not a.stopping.is_set():
                packet, key = a.assets["canned"][frame_id % len(a.assets["canned"])]
                frame_id += 1
                c.sock.sendall(pings + ws_frame(ec.frame(frame_id, ec.H264, WIDTH, HEIGHT,
                                                         packet, keyframe=key)))
                a.count("bytes sent", len(pings) + len(packet))
        except (OSError, EOFError):
            a.count("closed by server")
        a.close(c)


def silent(a, index, source):
    """Three in four connect and never send HELLO; the fourth sends HELLO,
    then its own ERROR, and stays open: the server closes both kinds."""
    while not a.stopping.is_set():
        c = a.open(source)
        if c is None:
            continue
        try:
            if index % 4 == 3:
                if a.hello(c, f"quitter-{index}"):
                    c.send(ec.message(ec.ERROR, ec.struct.pack("<H", 8)
                                      + ec.string("going away, staying open")))
                    a.count("own ERROR sent")
            a.close_code(c)
        except (OSError, EOFError):
            a.count("closed by server")
        a.close(c)


def guesser(a, index, source):
    """HELLO with a wrong token, as fast as the answers come."""
    n = 0
    while not a.stopping.is_set():
        c = a.open(source)
        if c is None:
            continue
        try:
            n += 1
            c.send(ec.hello(f"guesser-{index}", token=f"guess-{index}-{n}"))
            m = c.recv_message()
            a.count("guesses")
            if m is not None and m["type"] == ec.ERROR:
                a.count("refused unchecked (throttled)" if "too many" in m["text"]
                        else "checked, wrong token")
            else:
                a.count("not refused!")
            a.close_code(c)
        except (OSError, EOFError):
            a.count("closed by server")
        a.close(c)


def forged(a, index, source, flood=False):
    """In turn by client: a frame header of 8192x8192; an 8192x8192 SPS
    behind a 640x480 header; a 640x480 bitstream under a 320x240 header.
    With `flood` (the "floods" attack): a flood of 1 MiB frames (a valid
    SPS/PPS, then slices that decode into pictures) sent FLOOD_BURST at a
    time, over --max-pending-bytes, answers read."""
    variant = 3 if flood else index % 3
    frame_id = 0
    while not a.stopping.is_set():
        c = a.open(source)
        if c is None:
            continue
        try:
            if not a.hello(c, f"forger-{index}"):
                a.close(c)
                continue
            if variant == 0:
                c.send(ec.frame(1, ec.H264, 8192, 8192, a.assets["big"]))
            elif variant == 1:
                c.send(ec.frame(1, ec.H264, WIDTH, HEIGHT, a.assets["big"]))
            elif variant == 2:
                c.send(ec.frame(1, ec.H264, 320, 240, a.assets["small"]))
            if variant < 3:
                a.count(("header 8192x8192", "SPS 8192x8192", "size mismatch")[variant])
                while (m := c.recv_message()) is not None:
                    if m["type"] == ec.ERROR:
                        a.count(f"ERROR {m['code']}")
                a.count(f"closed {c.close_code}")
            else:
                while not a.stopping.is_set():
                    for _ in range(FLOOD_BURST):
                        frame_id += 1
                        c.send(ec.frame(frame_id, ec.H264, WIDTH, HEIGHT, a.assets["flood"]))
                        a.count("flood bytes", len(a.assets["flood"]))
                    answers = 0
                    while answers < FLOOD_BURST:
                        m = c.recv_message()
                        if m is None:
                            raise EOFError
                        if m["type"] == ec.DROP:
                            a.count(f"flood DROP {m['reason']}")
                        elif m["type"] != ec.ACK:
                            a.count(f"flood type {m['type']}")
                        answers += m["type"] != ec.ACK
        except (OSError, EOFError):
            a.count("closed by server")
        a.close(c)


def drain(a, c):
    """Counts the answers that have come, without waiting for more."""
    while c.buffer or select.select([c.sock], [], [], 0)[0]:
        m = c.recv_message()
        if m is None:
            raise EOFError
        if m["type"] == ec.RESULT:
            a.count("RESULT")
        elif m["type"] == ec.DROP:
            a.count(f"DROP {m['reason']}")
        elif m["type"] == ec.ERROR:
            a.count(f"ERROR {m['code']}")


def bad_stream(a, index, source):
    """Even clients: a stock-libx264 stream with B-frames (bframes=3,
    b-pyramid), frame ids in display order, at --camera-fps; odd ones:
    garbage H.264 (random slices of 2-8 KB) at 10 frames/s.  Both read
    their answers."""
    rng = random.Random(index)
    bframes = index % 2 == 0
    period = 1 / a.camera_fps if bframes else 0.1
    loop = 0
    while not a.stopping.is_set():
        c = a.open(source)
        if c is None:
            continue
        try:
            if not a.hello(c, f"{'bframes' if bframes else 'garbage'}-{index}"):
                a.close(c)
                continue
            at = time.monotonic()
            while not a.stopping.is_set():
                if bframes:
                    stream = a.assets["bframes"]
                    pts, packet, key = stream[loop % len(stream)]
                    frame_id = 1 + pts + len(stream) * (loop // len(stream))
                else:
                    n = rng.randrange(2048, 8192)
                    packet = b"\x00\x00\x00\x01" + bytes([rng.choice((0x65, 0x41))]) \
                        + rng.randbytes(n)
                    key, frame_id = loop % 30 == 0, loop + 1
                loop += 1
                c.send(ec.frame(frame_id, ec.H264, WIDTH, HEIGHT, packet, keyframe=key))
                a.count("frames sent")
                drain(a, c)
                at = max(at + period, time.monotonic() - period)
                a.stopping.wait(max(0.0, at - time.monotonic()))
        except (OSError, EOFError):
            a.count("closed by server")
        a.close(c)


def flood(a, index, source):
    forged(a, index, source, flood=True)


KINDS = {"non-readers": non_reader, "silent": silent, "guessers": guesser,
         "forged": forged, "floods": flood, "bad-streams": bad_stream}


def run(kind, port, token, clients, assets, camera_fps, nice, stop, results, subnet):
    """Child process: `clients` threads of `kind` until `stop` (a
    multiprocessing Event) is set; puts the counters on `results`."""
    os.nice(nice)
    a = Attack(port, token, assets, camera_fps)
    threads = []
    for i in range(clients):
        source = f"127.{subnet}.{i // 200}.{2 + i % 200}"
        t = threading.Thread(target=KINDS[kind], args=(a, i, source), daemon=True)
        t.start()
        threads.append(t)
    stop.wait()
    a.stop()
    end = time.monotonic() + 10
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    with a.lock:
        counts = dict(a.counts)
    counts["upgraded at once, max"] = a.upgraded_max
    counts["past HELLO at once, max"] = a.helloed_max
    results.put(counts)
