#!/usr/bin/python3
"""A well-behaved client of yoloswitch-edge while hostile clients attack the
server (issue 13's "Done when"): its result rate and latency with and
without each attack, how long new clients wait for their HELLO, and the
server's memory.

The real yoloswitch-edge runs on loopback with its defaults plus --token.
One camera (a websockets client, as bench/edge_load.py: canned 640x480
H.264 replayed in order) sends --fps frames/s with the HELLO's queue depth
in flight at most, for the whole run; its results/s and send-to-RESULT
latency are counted per phase.  Per attack, phases alternate A (no attack)
and B (--hostile clients of that kind, bench/attackers.py, each from its own
loopback address), --pairs times, so a busy machine shifts both alike.  In
every phase --probes new clients connect one after another from 127.0.0.1
and time TCP connect -> the server's HELLO (retrying 503s, as a camera
does, for its share of the phase, at least 2 s).  The server's VmRSS is
sampled every 0.5 s and its CPU read from /proc.  The attackers run at --attacker-nice (on a real
network they would be other machines; here they share the cores) and their
CPU is shown.

Usage: bench/edge_attack.py [--seconds 20] [--pairs 3] [--hostile 64]
       [--attacks non-readers,silent,guessers,forged,floods,bad-streams]
Prints a Markdown section for docs/BENCHMARKS.md; exit code 1 if a
criterion fails.  Run scripts/setup.sh and build in --build first.
"""
import argparse
import asyncio
import datetime
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import attackers
import edge_load
import machine

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import edge_client as ec  # noqa: E402
import h264_streams  # noqa: E402
from raw_ws import RawWs  # noqa: E402
from test_edge_hostile import vm_kb  # noqa: E402
import websockets  # noqa: E402

TOKEN = "bench-token"
# The server's stated bound (docs/PROTOCOL.md "Memory budget"): its idle
# RSS, the default --memory-budget-bytes (256 MiB), the 16 MiB messages may
# pass it by while room is made, and ~100 MB it keeps outside the budget
# (worker buffers, connections).
RSS_ABOVE_IDLE_MB = 268 + 17 + 100
PROBE_LIMIT_S = 10  # a new client not served by then counts as not served
ATTACKS = {  # kind: what the table calls it
    "non-readers": "non-readers (HELLO with the token, PINGs + FRAMEs, never read)",
    "silent": "silent (no HELLO; 1 in 4: HELLO, own ERROR, stays open)",
    "guessers": "wrong-token guessers",
    "forged": "forged frames (8192x8192 header / SPS, size mismatch)",
    # Not refusable cheaply: frames that decode, from clients past HELLO,
    # are load; the workers share out among clients, so N of them leave
    # the camera about 1/(N+1) of the inference capacity.
    "floods": "floods of decodable 1 MiB frames (load, from clients with the token)",
    "bad-streams": "B-frame streams + garbage H.264",
}


def assets(tmp):
    """The bitstreams: the camera's canned packets, and the attackers'."""
    testsrc = ["-f", "lavfi", "-i", f"testsrc=size={attackers.WIDTH}x{attackers.HEIGHT}:rate=10",
               "-map", "0:v", "-pix_fmt", "yuv420p"]
    big = h264_streams.h264_stream(tmp, "big", ["-f", "lavfi", "-i",
                                                "color=c=gray:size=8192x8192:rate=1",
                                                "-map", "0:v", "-pix_fmt", "yuv420p",
                                                "-frames:v", "1"],
                                   "keyint=1", ["-preset", "ultrafast"])
    small = h264_streams.h264_stream(tmp, "small", testsrc + ["-frames:v", "1"], "keyint=1")
    bframes = h264_streams.h264_stream(tmp, "bframes", testsrc + ["-frames:v", "40"],
                                       "bframes=3:b-pyramid=normal:keyint=250")
    # The flood: the small stream's SPS and PPS (so the size checks pass),
    # then a garbage IDR slice up to FLOOD_FRAME_BYTES.
    nals = small[0][1].split(b"\x00\x00\x00\x01")
    headers = b"".join(b"\x00\x00\x00\x01" + n for n in nals if n and n[0] & 0x1f in (7, 8))
    flood = headers + b"\x00\x00\x00\x01\x65"
    flood += os.urandom(attackers.FLOOD_FRAME_BYTES - len(flood))
    return {"canned": edge_load.canned_packets(tmp), "big": big[0][1], "small": small[0][1],
            "bframes": bframes, "flood": flood}


class Camera:
    """The well-behaved client: paced, never more than the queue depth in
    flight, reconnecting if the server ever closes it."""

    def __init__(self, url, packets, fps):
        self.url, self.packets, self.period = url, packets, 1 / fps
        self.results = []  # (time received, latency s)
        self.drops = []  # (time, reason)
        self.reconnects = -1

    async def run(self, stop):
        frame_id = 0
        while not stop.is_set():
            self.reconnects += 1
            try:
                async with websockets.connect(self.url, subprotocols=[ec.SUBPROTOCOL],
                                              max_size=None) as ws:
                    await ws.send(ec.hello("camera", token=TOKEN, codecs=(ec.H264,)))
                    window = max(1, ec.parse(await ws.recv())["queue_depth"])
                    frame_id = await self.stream(ws, window, stop, frame_id)
            except (OSError, websockets.WebSocketException) as e:
                print(f"camera: connection lost ({e!r}), reconnecting", file=sys.stderr)
                await asyncio.sleep(0.2)

    async def stream(self, ws, window, stop, frame_id):
        sent = {}
        slot = asyncio.Condition()

        async def receive():
            async for data in ws:
                m = ec.parse(data)
                if m["type"] in (ec.RESULT, ec.DROP) and m["frame_id"] in sent:
                    now = time.monotonic()
                    if m["type"] == ec.RESULT:
                        self.results.append((now, now - sent.pop(m["frame_id"])))
                    else:
                        self.drops.append((now, m["reason"]))
                        sent.pop(m["frame_id"])
                    async with slot:
                        slot.notify()

        receiver = asyncio.create_task(receive())
        at = time.monotonic()
        # A new connection starts on a keyframe: the canned stream's first.
        start = frame_id
        try:
            while not stop.is_set() and not receiver.done():
                async with slot:
                    await slot.wait_for(lambda: len(sent) < window or stop.is_set()
                                        or receiver.done())
                if stop.is_set() or receiver.done():
                    break
                packet, key = self.packets[(frame_id - start) % len(self.packets)]
                frame_id += 1
                sent[frame_id] = time.monotonic()
                await ws.send(ec.frame(frame_id, ec.H264, edge_load.WIDTH, edge_load.HEIGHT,
                                       packet, keyframe=key))
                # Late sends do not catch up in a burst.
                at = max(at + self.period, time.monotonic() - self.period)
                await asyncio.sleep(max(0.0, at - time.monotonic()))
        finally:
            receiver.cancel()
        return frame_id

    def window(self, t0, t1):
        lat = [l for t, l in self.results if t0 <= t < t1]
        return {"rate": len(lat) / (t1 - t0), "latencies": lat,
                "drops": sum(1 for t, _ in self.drops if t0 <= t < t1)}


REFUSALS = {"server full": "full", "waiting for their HELLO": "unauthenticated",
            "already has": "per-address", "draining": "draining"}


def refusal(c):
    """What a 503 was for, from its body (the server's sentence)."""
    body = c.body.decode(errors="replace")
    return next((v for k, v in REFUSALS.items() if k in body), f"HTTP {c.status}")


def probe(port, limit=PROBE_LIMIT_S):
    """A new client: seconds from TCP connect to the server's HELLO, and
    the refusals it met ({reason: n}); None if not served within `limit`."""
    start = time.monotonic()
    refusals = {}
    while time.monotonic() - start < limit:
        why = "connection failed"
        try:
            c = RawWs(port)
        except (OSError, EOFError):
            c = None
        try:
            if c is not None and c.status == 101:
                c.send(ec.hello("new-camera", token=TOKEN))
                m = c.recv_message()
                if m is not None and m["type"] == ec.HELLO:
                    return time.monotonic() - start, refusals
                why = f"ERROR {m['code']}" if m is not None and m["type"] == ec.ERROR \
                    else "no HELLO"
            elif c is not None:
                why = refusal(c)
        except (OSError, EOFError):
            why = "closed"
        finally:
            if c is not None:
                c.close()
        refusals[why] = refusals.get(why, 0) + 1
        time.sleep(0.2)
    return None, refusals


def probe_limit(seconds, count):
    """How long one new client may wait: its share of the phase, at least
    2 s (twice the criterion), so that one refused for good does not use
    up the phase, and the phase overruns by at most that."""
    return min(PROBE_LIMIT_S, max(seconds / count, 2.0))


def probes(port, seconds, count):
    """`count` new clients one after another, spread over `seconds`."""
    out = []
    start = time.monotonic()
    for k in range(count):
        wait = start + k * seconds / count - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        out.append(probe(port, probe_limit(seconds, count)))
    rest = start + seconds - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    return out


class Sampler(threading.Thread):
    """VmRSS of the server every 0.5 s."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()

    def run(self):
        while not self.done.wait(0.5):
            try:
                self.samples.append((time.monotonic(), vm_kb(self.pid, "VmRSS")))
            except (OSError, AssertionError):
                return

    def max_mb(self, t0, t1):
        return max((kb for t, kb in self.samples if t0 <= t <= t1), default=0) / 1024


COUNTERS = ("_closed_total", "_refused_total", "_errors_total", "_dropped_total",
            "_auth_", "_reading_paused", "_pings_ignored", "_seconds_total",
            "_inference_seconds_sum", "_frames_decoded_total", "_frames_inferred_total")


def counter_deltas(before, after):
    return {k: after[k] - before.get(k, 0) for k in after
            if any(c in k for c in COUNTERS) and after[k] != before.get(k, 0)}


class Bench:
    """One attack: a fresh server (so its memory is this attack's alone),
    the camera, and the A/B phases."""

    def __init__(self, args, server, data, kind, subnet):
        self.args, self.server, self.data = args, server, data
        self.kind, self.subnet = kind, subnet
        self.port, self.pid = server.port, server.proc.pid
        self.camera = Camera(server.url, data["canned"], args.fps)
        self.sampler = Sampler(self.pid)
        self.mp = multiprocessing.get_context("spawn")

    async def settle(self):
        """Until only the camera is connected (attackers' sockets closed)."""
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if (await asyncio.to_thread(ec.metrics, self.port))["yoloswitch_edge_clients"] <= 1:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)

    def log_bytes(self):
        return os.path.getsize(self.server.log.name)

    async def phase(self, attacked):
        attacker = None
        if attacked:
            stop, results = self.mp.Event(), self.mp.Queue()
            attacker = self.mp.Process(target=attackers.run, args=(
                self.kind, self.port, TOKEN, self.args.hostile, self.data,
                self.args.camera_fps, self.args.attacker_nice, stop, results, self.subnet))
            await asyncio.to_thread(attacker.start)
            await asyncio.sleep(self.args.attack_warmup)
        before = await asyncio.to_thread(ec.metrics, self.port)
        cpu0, t0 = edge_load.cpu_seconds(self.pid), time.monotonic()
        acpu0 = edge_load.cpu_seconds(attacker.pid) if attacker else 0
        log0, reconnects0 = self.log_bytes(), self.camera.reconnects
        probed = await asyncio.to_thread(probes, self.port, self.args.seconds,
                                         self.args.probes)
        t1 = time.monotonic()
        cpu = (edge_load.cpu_seconds(self.pid) - cpu0) / (t1 - t0)
        acpu = (edge_load.cpu_seconds(attacker.pid) - acpu0) / (t1 - t0) if attacker else 0
        after = await asyncio.to_thread(ec.metrics, self.port)
        r = self.camera.window(t0, t1)
        r.update(probes=probed, rss_mb=self.sampler.max_mb(t0, t1), cpu=cpu,
                 attacker_cpu=acpu, counters=counter_deltas(before, after),
                 alive=self.server.proc.poll() is None,
                 log_kb_s=(self.log_bytes() - log0) / 1024 / (t1 - t0),
                 reconnects=self.camera.reconnects - reconnects0)
        if attacker:
            stop.set()
            r["attack"] = await asyncio.to_thread(results.get, True, 60)
            await asyncio.to_thread(attacker.join, 30)
        await self.settle()
        print(f"{self.kind} {'B' if attacked else 'A'}: {r['rate']:.1f} results/s, "
              f"RSS {r['rss_mb']:.0f} MB, CPU {cpu:.2f}, camera reconnects "
              f"{r['reconnects']}, probes {[p for p, _ in probed]}, {r.get('attack', '')}, "
              f"{r['counters']}", file=sys.stderr)
        return r

    async def run(self):
        stop = asyncio.Event()
        self.sampler.start()
        camera = asyncio.create_task(self.camera.run(stop))
        await asyncio.sleep(self.args.warmup)
        phases = {"A": [], "B": []}
        for _ in range(self.args.pairs):
            phases["A"].append(await self.phase(False))
            phases["B"].append(await self.phase(True))
        stop.set()
        await asyncio.wait_for(camera, 30)
        self.sampler.done.set()
        phases["idle_rss"] = self.sampler.max_mb(0, self.sampler.samples[0][0] + 1)
        return phases


def merge(dicts):
    out = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def p95(values):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(0.95 * len(values)))]


def summary(phases, args):
    a, b = phases["A"], phases["B"]
    seconds = args.seconds * len(a)
    rate_a = sum(p["rate"] for p in a) * args.seconds / seconds
    rate_b = sum(p["rate"] for p in b) * args.seconds / seconds
    lat_a = [l for p in a for l in p["latencies"]]
    lat_b = [l for p in b for l in p["latencies"]]
    new_b = [t for p in b for t, _ in p["probes"]]
    served = [t for t in new_b if t is not None]
    ratio = rate_b / rate_a if rate_a else 0
    new_max = max(served) if len(served) == len(new_b) and served else float("inf")
    rss = max(p["rss_mb"] for p in b)
    attack = {}
    for p in b:
        for k, v in p.get("attack", {}).items():
            attack[k] = max(attack.get(k, 0), v) if "max" in k else attack.get(k, 0) + v
    counters = merge(p["counters"] for p in b)
    return {
        "in": (attack.pop("upgraded at once, max", 0), attack.pop("past HELLO at once, max", 0)),
        "rate_a": rate_a, "rate_b": rate_b, "ratio": ratio,
        "p50_a": statistics.median(lat_a) if lat_a else float("nan"),
        "p50_b": statistics.median(lat_b) if lat_b else float("nan"),
        "p95_a": p95(lat_a), "p95_b": p95(lat_b),
        "new_max": new_max, "new_p95": p95(served), "unserved": len(new_b) - len(served),
        "probed": len(new_b),
        "new_max_a": max((t for p in a for t, _ in p["probes"] if t is not None), default=0),
        "refusals": merge(r for p in b for _, r in p["probes"]),
        "rss": rss, "rss_a": max(p["rss_mb"] for p in a), "rss_idle": phases["idle_rss"],
        "log_kb_s": (statistics.mean(p["log_kb_s"] for p in a),
                     statistics.mean(p["log_kb_s"] for p in b)),
        "reconnects": sum(p["reconnects"] for p in a + b),
        "cpu_a": statistics.mean(p["cpu"] for p in a),
        "cpu_b": statistics.mean(p["cpu"] for p in b),
        "attacker_cpu": statistics.mean(p["attacker_cpu"] for p in b),
        "pair_ratios": [pb["rate"] / pa["rate"] if pa["rate"] else 0 for pa, pb in zip(a, b)],
        "drops": (sum(p["drops"] for p in a), sum(p["drops"] for p in b)),
        "alive": all(p["alive"] for p in a + b),
        "attack": attack, "counters": counters,
        "pass": (ratio >= args.min_ratio, new_max <= args.max_new_s,
                 rss <= (args.rss_mb or phases["idle_rss"] + RSS_ABOVE_IDLE_MB)),
    }


def full_note(s):
    """Why new clients met "server full", when they did."""
    if not s["refusals"].get("full"):
        return ""
    return (f" New clients met \"server full\": these attackers hold the token, so they "
            f"count under --max-clients like cameras ({s['in'][1]} past HELLO at once, plus "
            f"the camera).")


def commit():
    def git(*a):
        return subprocess.run(["git", "-C", ROOT, *a], capture_output=True,
                              text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + (" (with local changes)" if git(
        "status", "--porcelain", "--untracked-files=no") else "")


def report(rows, args, command, data):
    ok = lambda good: "PASS" if good else "FAIL"  # noqa: E731
    print(f"### Edge server under attack ({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}; server, camera and attackers share it. Commit "
          f"{commit()}. Command: `{command}`. yoloswitch-edge with its defaults plus "
          f"`--token` on loopback. The camera sends {len(data['canned'])} canned "
          f"{edge_load.WIDTH}x{edge_load.HEIGHT} H.264 frames in a loop at {args.fps:g} "
          f"frames/s, the HELLO's queue depth in flight at most. Per attack {args.pairs} "
          f"pair(s) of {args.seconds:g} s phases, A (no attack) then B ({args.hostile} "
          f"hostile clients, one loopback address each, counted after "
          f"{args.attack_warmup:g} s), attackers at nice {args.attacker_nice}; "
          f"B-frame attackers at {args.camera_fps:g} frames/s each. In every phase "
          f"{args.probes} new clients connect one after another (connect -> server HELLO, "
          f"retrying 503 every 0.2 s, not served after "
          f"{probe_limit(args.seconds, args.probes):g} s). RSS: VmRSS every 0.5 s, max over "
          f"the B phases. CPU: cores used by the server "
          f"(and by the attackers' process).\n")
    header = ["attack", "hostile in at once, max: connected / past HELLO",
              "results/s A / B (ratio)",
              "p50 / p95 ms A", "p50 / p95 ms B", "new client s, B max / p95 (A max)",
              "server RSS MB, B max (A max; idle)", "server CPU A / B (attackers)",
              f"ratio >= {args.min_ratio:g}", f"new <= {args.max_new_s:g} s",
              f"RSS <= {args.rss_mb} MB" if args.rss_mb
              else f"RSS <= idle + {RSS_ABOVE_IDLE_MB} MB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    failed = False
    for kind, phases in rows:
        s = summary(phases, args)
        failed |= not all(s["pass"]) or not s["alive"]
        unserved = (f", {s['unserved']} of {s['probed']} not served" if s["unserved"]
                    else "")
        print(f"| {ATTACKS[kind]} | {s['in'][0]} / {s['in'][1]} of {args.hostile} | "
              f"{s['rate_a']:.1f} / "
              f"{s['rate_b']:.1f} ({s['ratio']:.2f}) | {s['p50_a'] * 1e3:.0f} / "
              f"{s['p95_a'] * 1e3:.0f} | {s['p50_b'] * 1e3:.0f} / {s['p95_b'] * 1e3:.0f} | "
              f"{s['new_max']:.2f} / {s['new_p95']:.2f} ({s['new_max_a']:.2f}){unserved} | "
              f"{s['rss']:.0f} ({s['rss_a']:.0f}; {s['rss_idle']:.0f}) | "
              f"{s['cpu_a']:.2f} / {s['cpu_b']:.2f} "
              f"({s['attacker_cpu']:.2f}) | {ok(s['pass'][0])} | {ok(s['pass'][1])} | "
              f"{ok(s['pass'][2])} |")
    print("\nWhat each attack did: the attackers' own counts (over their whole life, "
          "warm-up included, summed over the B phases), then the server's /metrics counters "
          "that moved during the B phases.\n")
    for kind, phases in rows:
        s = summary(phases, args)
        attack = ", ".join(f"{k} {v}" for k, v in sorted(s["attack"].items()))
        counters = ", ".join(f"`{k.replace('yoloswitch_edge_', '')}` {v:g}"
                             for k, v in sorted(s["counters"].items()))
        print(f"- **{kind}**: {attack}. Server: {counters or 'no counter moved'}. Camera "
              f"drops A / B: {s['drops'][0]} / {s['drops'][1]}; per-pair ratios "
              f"{', '.join(f'{r:.2f}' for r in s['pair_ratios'])}; refusals met by new clients: "
              f"{', '.join(f'{k} {v}' for k, v in sorted(s['refusals'].items())) or 'none'}; "
              f"camera reconnects {s['reconnects']}; server log A / B "
              f"{s['log_kb_s'][0]:.1f} / {s['log_kb_s'][1]:.1f} KB/s"
              f"{'' if s['alive'] else '; THE SERVER DIED'}.{full_note(s)}")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20, help="length of each phase")
    ap.add_argument("--pairs", type=int, default=3, help="A/B pairs per attack")
    ap.add_argument("--hostile", type=int, default=64, help="hostile clients per attack")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--fps", type=float, default=10, help="the camera's frames/s")
    ap.add_argument("--probes", type=int, default=10, help="new clients per phase")
    ap.add_argument("--camera-fps", type=float, default=0.5,
                    help="frames/s of each B-frame attacker")
    ap.add_argument("--attacker-nice", type=int, default=10)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--attack-warmup", type=float, default=3,
                    help="seconds an attack runs before a B phase counts")
    ap.add_argument("--min-ratio", type=float, default=0.8)
    ap.add_argument("--max-new-s", type=float, default=1.0)
    ap.add_argument("--rss-mb", type=int, default=0,
                    help="RSS bound in MB (default: the server's stated one, "
                    "idle + --memory-budget-bytes + 100 MB, docs/PROTOCOL.md)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--log-dir", help="keep each attack's server log there")
    args = ap.parse_args()
    for kind in args.attacks.split(","):
        if kind not in ATTACKS:
            ap.error(f"unknown attack {kind!r}: one of {', '.join(ATTACKS)}")
    ec.EDGE = os.path.join(args.build, "offload", "yoloswitch-edge")
    edge_load.TOOL = os.path.join(args.build, "bench", "yoloswitch-encode-bench")
    command = "bench/edge_attack.py " + " ".join(sys.argv[1:])

    with tempfile.TemporaryDirectory() as tmp:
        data = assets(tmp)
    rows = []
    for n, kind in enumerate(args.attacks.split(",")):
        with ec.EdgeServer("--token", TOKEN) as server:
            rows.append((kind, asyncio.run(Bench(args, server, data, kind, 10 + n).run())))
            if args.log_dir:
                os.makedirs(args.log_dir, exist_ok=True)
                with open(os.path.join(args.log_dir, f"edge-{kind}.log"), "w") as f:
                    f.write(server.stderr())
    return report(rows, args, command, data)


if __name__ == "__main__":
    sys.exit(main())
