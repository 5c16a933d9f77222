#!/usr/bin/python3
"""Two builds of yoloswitch against each other, in one interleaved run, so
that a change's effect is not confused with the machine's mood: the fast
engine (yoloswitch-detect --repeat 30 --threads 1 and 2 on dog.jpg, median
infer ms) on the shipped models and yolov3-tiny with random weights, and the
local pipeline (gst-launch-1.0: decode, convert, yolodetect sync, yolojson;
N frames of vtest.avi, wall seconds including start-up).

    bench/ab_builds.py --old /tmp/build-old --new build [--rounds 5]

Prints a Markdown table: the median over the rounds for each build, new/old.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MODELS = os.path.join(SHARED, "models")
VIDEO = os.path.join(SHARED, "data", "vtest.avi")
DOG = "/usr/share/darknet/data/dog.jpg"
TINY_CFG = "/usr/share/darknet/cfg/yolov3-tiny.cfg"
ENGINE_MODELS = ("yolo-fastest-1.1", "yolo-fastest-1.1-xl",
                 "MobileNetV2-YOLOv3-Nano-coco", "yolov3-tiny")


def detect(build, model, threads, tiny_weights):
    if model == "yolov3-tiny":
        args = ["--cfg", TINY_CFG, "--weights", tiny_weights,
                "--labels", os.path.join(MODELS, "coco.names")]
    else:
        args = ["--model", model, "--model-dir", MODELS]
    out = subprocess.run([os.path.join(build, "yolo", "yoloswitch-detect"), *args,
                          "--repeat", "30", "--threads", str(threads), DOG],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["infer_ms"]


def pipeline(build, frames):
    # The build's plugin first, the system's for decodebin and the rest;
    # a registry of its own so the two builds never share a cache.
    env = dict(os.environ, GST_PLUGIN_PATH_1_0=os.path.join(build, "elements"),
               GST_REGISTRY_1_0=os.path.join(tempfile.mkdtemp(), "registry.bin"))
    t0 = time.monotonic()
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO}", "!",
                    "decodebin", "!", "identity", f"eos-after={frames}", "!",
                    "videoconvert", "!", "video/x-raw,format=BGRx", "!", "yolodetect",
                    "threads=2", f"model-dir={MODELS}", "!", "yolojson",
                    "location=/dev/null", "!", "fakesink"],
                   env=env, check=True, capture_output=True)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="build directory of the old tree")
    ap.add_argument("--new", required=True, help="build directory of the new tree")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=400)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    tiny_weights = os.path.join(tmp, "yolov3-tiny.weights")
    subprocess.run([os.path.join(args.new, "tests", "common", "yoloswitch-random-weights"),
                    TINY_CFG, tiny_weights, "1234"], check=True)

    runs = {}
    for r in range(args.rounds):
        for name, build in (("old", args.old), ("new", args.new)):
            for model in ENGINE_MODELS:
                for threads in (1, 2):
                    runs.setdefault((model, threads), {}).setdefault(name, []).append(
                        detect(build, model, threads, tiny_weights))
            runs.setdefault(("pipeline", 0), {}).setdefault(name, []).append(
                pipeline(build, args.frames))
        print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)

    print("| measure | old | new | new / old |")
    print("|---|---|---|---|")
    for (what, threads), by_build in runs.items():
        old = statistics.median(by_build["old"])
        new = statistics.median(by_build["new"])
        label = (f"local pipeline, {args.frames} frames, s" if what == "pipeline"
                 else f"{what}, {threads} thread(s), ms")
        print(f"| {label} | {old:.2f} | {new:.2f} | {new / old:.2f} |")
        print(f"<!-- {label}: old {by_build['old']} new {by_build['new']} -->")


if __name__ == "__main__":
    main()
