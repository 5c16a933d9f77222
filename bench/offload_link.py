#!/usr/bin/python3
"""Edge offload over an emulated link: result rate of pipelined sending
against stop-and-wait (max-in-flight=1, what the seed systems did), and
capture-to-result latency, at added RTT 0/50/100/200 ms x bandwidth
1/4/16 Mbit/s.

The camera is vtest.avi at 640x480 played at 30 frames/s in real time
(raw frames from a file, paced by `identity sync=true`), through
yolooffload mode=async, so the camera never waits for the network: frames
that find no free slot are not sent, as a live camera would lose them.
Server and client run in two network namespaces joined by a tbf-shaped
veth pair, with delay_relay.py adding the RTT (see shaping.py).

Result rate = RESULTs received / stream duration.  The bound it is held to
is min(camera fps, server fps, link bandwidth / mean frame size), where
server fps is measured in the same run on loopback with the same encoder
load on the machine, and mean frame size is what the run itself sent.

Usage (root): bench/offload_link.py [--frames N] [--bw 1,4,16] [--rtt 0,50,100,200]
Prints a Markdown section for docs/BENCHMARKS.md.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import machine
from shaping import Link

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
import edge_client as ec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("YOLOSWITCH_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
VIDEO = os.path.join(SHARED, "data", "vtest.avi")
EDGE = os.path.join(ROOT, "build", "offload", "yoloswitch-edge")

ENV = dict(os.environ)
ENV["GST_PLUGIN_PATH"] = os.path.join(ROOT, "build", "elements")
ENV["GST_REGISTRY"] = os.path.join(tempfile.gettempdir(), "yoloswitch-bench-registry.bin")

WIDTH, HEIGHT, FPS = 640, 480, 30
FRAME_BYTES = WIDTH * HEIGHT * 3 // 2
PIPELINED_IN_FLIGHT = 16
QUEUE_DEPTH = 16  # the server's per-client queue: it caps the client's window
BUDGET_MS = 1500


def make_camera_file(path, frames):
    """vtest.avi's first frames, 640x480 I420, raw: the camera's output
    without the cost of decoding a file in the measured run."""
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO}", "!", "parsebin",
                    "!", "identity", f"eos-after={frames + 1}", "!", "decodebin", "!",
                    "videoscale", "!", "videoconvert", "!",
                    f"video/x-raw,format=I420,width={WIDTH},height={HEIGHT}", "!",
                    "filesink", f"location={path}"], check=True, env=ENV)
    got = os.path.getsize(path) // FRAME_BYTES
    if got != frames:
        sys.exit(f"camera file has {got} frames, wanted {frames}")


def camera(path, realtime=True):
    pipeline = ["filesrc", f"location={path}", f"blocksize={FRAME_BYTES}", "!",
                "rawvideoparse", f"width={WIDTH}", f"height={HEIGHT}", "format=i420",
                f"framerate={FPS}/1", "!"]
    if realtime:
        pipeline += ["identity", "sync=true", "!"]
    return pipeline


def run_client(cmd_prefix, camera_path, url, frames, in_flight, bitrate, mode="async",
               realtime=True):
    """One run of the camera through yolooffload; returns its figures."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        cmd = cmd_prefix + ["gst-launch-1.0", "-e", "-m"] + camera(camera_path, realtime) + [
            # Frames without a result are what this measures, not a failure.
            "yolooffload", f"server={url}", f"mode={mode}", "on-missing-result=ignore",
            f"max-in-flight={in_flight}",
            f"bitrate={bitrate}", f"latency-budget-ms={BUDGET_MS}", "stats-interval-ms=60000",
            "!", "yolojson", f"location={out.name}", "!", "fakesink"]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        stats = ec.last_stats(proc.stdout)
        with open(out.name) as f:
            lines = [json.loads(l) for l in f]
    # The frames before the connection was up (a few RTTs at start-up) are
    # not part of the steady state measured here.
    first_sent = next((i for i, line in enumerate(lines)
                       for r in line.get("results", [])
                       if r["source"] == "edge" and r.get("frame_id", 0) != 0), len(lines))
    latencies = {}
    for line in lines:
        for r in line.get("results", []):
            if r["source"] == "edge" and r["status"] == "ok":
                latencies[r["result_frame_id"]] = r["latency_ms"]
    results = int(stats["results"])
    sent = int(stats["frames-sent"])
    duration = (frames - first_sent) / FPS if realtime else wall
    lat = sorted(latencies.values())
    return {
        "frames_out": len(lines),
        "first_sent": first_sent,
        "sent": sent,
        "results": results,
        "rate": results / duration,
        "mean_bytes": int(stats["bytes-sent"]) / max(sent, 1),
        "server_ms": float(stats["server-ms"]),
        "rtt_min_ms": float(stats["rtt-min-ms"]),
        "p50": statistics.median(lat) if lat else float("nan"),
        "p95": lat[int(0.95 * (len(lat) - 1))] if lat else float("nan"),
    }


def start_server(start, address):
    server = start([EDGE, "--address", address, "--port", "0",
                    "--queue-depth", str(QUEUE_DEPTH)])
    line = server.stdout.readline()
    m = re.match(r"listening on ws://[^:]+:(\d+)", line)
    if not m:
        raise RuntimeError(f"edge server did not start: {line!r}")
    return int(m.group(1))


def bitrate_for(mbit):
    """What a user would set: 60 % of the link, at most 2 Mbit/s (plenty
    for 640x480 at 30 frames/s with the ultrafast preset)."""
    return int(min(0.6 * mbit * 1e6, 2e6))


def server_fps(camera_path, frames):
    """Results/s with the camera unthrottled on an unshaped loopback link,
    pipelined: the server's rate with the client's encoder on the same
    cores, as in every shaped run."""
    with Link(mbit=1000, rtt_ms=0) as link:
        port = start_server(link.start_in_server, link.server_ip)
        url = link.relay_to(port)
        r = run_client(link.in_client([]), camera_path, url, frames, QUEUE_DEPTH,
                       bitrate_for(16), mode="sync", realtime=False)
    return r["rate"], r["server_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--bw", default="1,4,16", help="Mbit/s, comma-separated")
    ap.add_argument("--rtt", default="0,50,100,200", help="added RTT in ms, comma-separated")
    args = ap.parse_args()
    # A plain exit, so every Link removes its namespaces on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("offload_link: terminated"))
    bws = [float(x) for x in args.bw.split(",")]
    rtts = [float(x) for x in args.rtt.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        cam = os.path.join(tmp, "camera.i420")
        make_camera_file(cam, args.frames)
        srv_fps, srv_ms = server_fps(cam, args.frames)
        print(f"server: {srv_fps:.1f} results/s, {srv_ms:.1f} ms per frame", file=sys.stderr)
        rows = []
        for mbit in bws:
            for rtt in rtts:
                with Link(mbit=mbit, rtt_ms=rtt) as link:
                    port = start_server(link.start_in_server, link.server_ip)
                    url = link.relay_to(port)
                    runs = {}
                    for name, n in (("pipelined", PIPELINED_IN_FLIGHT), ("stop-and-wait", 1)):
                        runs[name] = run_client(link.in_client([]), cam, url, args.frames, n,
                                                bitrate_for(mbit))
                        print(f"{mbit:g} Mbit/s, {rtt:g} ms, {name}: {runs[name]}",
                              file=sys.stderr)
                rows.append((mbit, rtt, runs))

    print(f"### Edge offload over an emulated link ({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}; client, relay and server share it. Command: "
          f"`sudo bench/offload_link.py --frames {args.frames} --bw {args.bw} "
          f"--rtt {args.rtt}`. Camera: vtest.avi, {WIDTH}x{HEIGHT}, {FPS} frames/s in real "
          f"time, H.264 (libx264 ultrafast/zerolatency) at 60 % of the link (at most "
          f"2 Mbit/s), yolooffload mode=async, latency-budget-ms={BUDGET_MS}; pipelined is "
          f"max-in-flight={PIPELINED_IN_FLIGHT} with the server's --queue-depth "
          f"{QUEUE_DEPTH}; the anchor, stop-and-wait, is max-in-flight=1 in the same run. "
          f"Server (yolo-fastest-1.1-xl, 1 worker) measured in the same run: "
          f"{srv_fps:.1f} results/s ({srv_ms:.1f} ms queue + decode + inference per "
          f"frame).\n")
    print("Result rate = RESULTs received / stream time from the first frame sent (the "
          "frames before the connection is up, a few RTTs, are left out; those in flight at "
          "EOS count against it). "
          "Bound = min(camera fps, server fps, bandwidth / mean frame size). Latency is "
          "capture to RESULT, per result; its target is RTT + transmit time (mean frame "
          "at the link rate) + server time + one frame interval.\n")
    print("| link | added RTT ms | bound fps | pipelined fps | / bound | stop-and-wait fps "
          "| pipelined / s&w | mean frame B | p50 ms | p95 ms | p50 target ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mbit, rtt, runs in rows:
        p, s = runs["pipelined"], runs["stop-and-wait"]
        bound = min(FPS, srv_fps, mbit * 1e6 / 8 / p["mean_bytes"])
        tx_ms = p["mean_bytes"] * 8 / (mbit * 1e6) * 1e3
        target = rtt + tx_ms + p["server_ms"] + 1e3 / FPS
        print(f"| {mbit:g} Mbit/s | {rtt:g} | {bound:.1f} | {p['rate']:.1f} | "
              f"{p['rate'] / bound:.2f} | {s['rate']:.1f} | {p['rate'] / s['rate']:.1f}x | "
              f"{p['mean_bytes']:.0f} | {p['p50']:.0f} | {p['p95']:.0f} | {target:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
