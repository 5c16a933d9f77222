#!/usr/bin/python3
"""The edge server's hot swap under a live stream (issue 16, docs/MODELS.md
"Hot swap on the edge"): vtest.avi at 30 frames/s (videorate, clock-synced)
through yolooffload (sync delivery, every frame waits for its own result)
to a real yoloswitch-edge on loopback whose model "served" is switched
between yolo-fastest-1.1 and yolo-fastest-1.1-xl by SIGHUP every few
seconds, then the same stream with no swaps.  Reports frames in and out,
frames with their own result, the answers by kind, the per-frame latency
(p50, p99, max) over the run and in the second after each swap, and the
server's swap count and load time.

Usage: bench/edge_swap.py [--seconds 30] [--every 3]
"frames out" is what yolojson wrote: videorate's duplicates near the end of
the stream can add a few past eos-after.
Prints the Markdown table rows for docs/MODELS.md.  Run scripts/setup.sh
first.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
import edge_client as ec  # noqa: E402

import machine  # noqa: E402

MODELS = os.path.join(ec.SHARED, "models")
# The plugin from this checkout's build, as the tests find it.
os.environ.setdefault("GST_PLUGIN_PATH", os.path.join(ec.ROOT, "build",
                                                      "elements"))
VERSIONS = ("yolo-fastest-1.1", "yolo-fastest-1.1-xl")


def put_version(folder, model):
    for ext in ("cfg", "weights"):
        tmp = os.path.join(folder, f".served.{ext}.new")
        os.symlink(os.path.join(MODELS, f"{model}.{ext}"), tmp)
        os.replace(tmp, os.path.join(folder, f"served.{ext}"))


def percentile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(seconds, every):
    """One run (every=0: no swaps); a dict of figures."""
    folder = tempfile.mkdtemp(prefix="edge-swap-bench-")
    out = os.path.join(folder, "out.jsonl")
    put_version(folder, VERSIONS[0])
    shutil.copy(os.path.join(MODELS, "coco.names"),
                os.path.join(folder, "served.names"))
    server = ec.EdgeServer("--model", "served", "--model-dir", folder)
    frames = seconds * 30
    cmd = ["gst-launch-1.0", "-e", "filesrc", f"location={ec.VIDEO}", "!",
           "decodebin", "!", "videoconvert", "!", "videorate", "!",
           "video/x-raw,framerate=30/1", "!", "identity",
           f"eos-after={frames + 1}", "!", "identity", "sync=true", "!",
           "yolooffload", f"server={server.url}", "mode=sync",
           f"latency-budget-ms={ec.GENEROUS_BUDGET_MS}", "!", "yolojson",
           f"location={out}", "!", "fakesink"]
    swaps_at = []
    stop = threading.Event()

    def swapper():
        k = 0
        while every > 0 and not stop.wait(every):
            k += 1
            put_version(folder, VERSIONS[k % 2])
            swaps_at.append(time.monotonic())
            server.proc.send_signal(signal.SIGHUP)

    try:
        t0 = time.monotonic()
        thread = threading.Thread(target=swapper)
        thread.start()
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=seconds * 10 + 300)
        stop.set()
        thread.join()
        metrics = ec.metrics(server.port)
        log = server.stderr()
    finally:
        server.stop()
    records = ec.read_jsonl(out)
    shutil.rmtree(folder)
    if proc.returncode != 0:
        raise SystemExit(f"gst-launch failed: {proc.stdout[-2000:]}"
                         f"{proc.stderr[-2000:]}")
    latencies, own, kinds = [], 0, {}
    for f in records:
        edge = [r for r in f["results"] if r["source"] == "edge"
                and r["status"] != "superseded"]
        r = edge[0] if edge else {"status": "none", "reason": "no record"}
        kind = r["status"] if r["status"] == "ok" else r.get("reason", "?")
        kinds[kind] = kinds.get(kind, 0) + 1
        if r["status"] == "ok" and r["result_frame_id"] == r["frame_id"]:
            own += 1
            latencies.append(r["latency_ms"])
    # Frames are 1/30 s apart from t0 on (clock-synced): the ones in the
    # second after each swap.
    after = []
    for at in swaps_at:
        first = int((at - t0) * 30)
        after += [records[i] for i in range(first, min(first + 30,
                                                       len(records)))]
    after_lat = [r["latency_ms"] for f in after for r in f["results"]
                 if r["source"] == "edge" and r["status"] == "ok"]
    return {
        "frames_out": len(records), "frames_asked": frames, "own": own,
        "kinds": kinds,
        "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
        "max": max(latencies) if latencies else float("nan"),
        "after_max": max(after_lat) if after_lat else float("nan"),
        "swaps": int(metrics.get(
            'yoloswitch_edge_model_swaps_total{result="swapped"}', 0)),
        "asked": len(swaps_at),
        "model_changed": int(metrics.get(
            'yoloswitch_edge_frames_dropped_total{reason="model-changed"}', 0)),
        "load_ms": metrics.get("yoloswitch_edge_model_load_microseconds",
                               0) / 1000,
        "took_over": log.count("took over"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--every", type=float, default=3)
    args = ap.parse_args()
    rows = [("SIGHUP every %g s" % args.every, run(args.seconds, args.every)),
            ("no swaps", run(args.seconds, 0))]
    print(f"{machine.describe()}; "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"`bench/edge_swap.py --seconds {args.seconds} --every {args.every:g}`")
    print()
    print("| run | frames in / out | own result | answers | latency p50 / p99 / "
          "max ms | max ms in the second after a swap | swaps taken over | "
          "last load ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))
        swaps = f"{r['swaps']} of {r['asked']}" if r["asked"] else "-"
        after = f"{r['after_max']:.1f}" if r["asked"] else "-"
        load = f"{r['load_ms']:.1f}"
        print(f"| {name} | {r['frames_asked']} / {r['frames_out']} | "
              f"{r['own']} | {kinds} | {r['p50']:.1f} / {r['p99']:.1f} / "
              f"{r['max']:.1f} | {after} | {swaps} | {load} |")
    print()
    print(json.dumps({name: r for name, r in rows}))


if __name__ == "__main__":
    main()
