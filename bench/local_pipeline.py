#!/usr/bin/python3
"""Local pipeline speed on vtest.avi: frames/s of decode, decode+convert and
the whole local pipeline (decode -> convert -> yolodetect -> yolojson), the
model's inference time, and the anchor measured in the same run: OpenCV DNN
(Debian python3-opencv) on the same cfg/weights, same input size, same
thread count.

Usage: bench/local_pipeline.py [--frames N] [--model NAME] [--threads N]
Prints a Markdown section for docs/BENCHMARKS.md.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("YOLOSWITCH_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
VIDEO = os.path.join(SHARED, "data", "vtest.avi")
MODELS = os.path.join(SHARED, "models")
DOG = "/usr/share/darknet/data/dog.jpg"

ENV = dict(os.environ)
ENV["GST_PLUGIN_PATH"] = os.path.join(ROOT, "build", "elements")


def timed_gst(pipeline, frames, runs=1):
    """Best wall time of gst-launch-1.0 over the first `frames` frames.
    (identity eos-after=K passes K-1 compressed frames; see
    tests/integration for why it sits before the decoder.)"""
    cmd = ["gst-launch-1.0", "-q", "filesrc", f"location={VIDEO}", "!", "parsebin",
           "!", "identity", f"eos-after={frames + 1}", "!", "decodebin", "!"] + pipeline
    best = None
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(cmd, check=True, env=ENV, capture_output=True)
        took = time.monotonic() - t0
        best = took if best is None else min(best, took)
    return best


def per_frame_ms(pipeline, frames=794, runs=3):
    """Per-frame cost of a pipeline, its start-up (a 1-frame run) removed."""
    startup = timed_gst(pipeline, 1, runs)
    return (timed_gst(pipeline, frames, runs) - startup) / (frames - 1) * 1e3


def detect_tool(model, repeat, engine, threads):
    out = subprocess.run(
        [os.path.join(ROOT, "build", "yolo", "yoloswitch-detect"), "--model", model,
         "--model-dir", MODELS, "--repeat", str(repeat), "--engine", engine,
         "--threads", str(threads), DOG],
        check=True, env=ENV, capture_output=True, text=True).stdout
    return json.loads(out)


def opencv_anchor(model, frames, repeat, threads):
    import cv2
    cv2.setNumThreads(threads)
    t0 = time.monotonic()
    net = cv2.dnn.readNetFromDarknet(os.path.join(MODELS, model + ".cfg"),
                                     os.path.join(MODELS, model + ".weights"))
    outs = net.getUnconnectedOutLayersNames()
    img = cv2.imread(DOG)
    size = (320, 320)
    blob = cv2.dnn.blobFromImage(img, 1 / 255.0, size, swapRB=True, crop=False)
    net.setInput(blob)
    net.forward(outs)
    load_ms = (time.monotonic() - t0) * 1e3
    times = []
    for _ in range(repeat):
        t = time.monotonic()
        net.setInput(cv2.dnn.blobFromImage(img, 1 / 255.0, size, swapRB=True, crop=False))
        net.forward(outs)
        times.append((time.monotonic() - t) * 1e3)
    # The same job as our pipeline: decode every frame, run the model on it.
    cap = cv2.VideoCapture(VIDEO)
    t = time.monotonic()
    n = 0
    while n < frames:
        ok, frame = cap.read()
        if not ok:
            break
        net.setInput(cv2.dnn.blobFromImage(frame, 1 / 255.0, size, swapRB=True, crop=False))
        net.forward(outs)
        n += 1
    pipeline_fps = n / (time.monotonic() - t)
    return load_ms, statistics.median(times), pipeline_fps


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--model", default="yolo-fastest-1.1")
    ap.add_argument("--engine", default="fast", choices=["fast", "darknet"])
    ap.add_argument("--threads", type=int, default=None,
                    help="inference threads, ours and OpenCV's (default: cores for "
                    "the fast engine, 1 for stock Darknet, which is single-threaded)")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()

    if args.threads is None:
        args.threads = os.cpu_count() if args.engine == "fast" else 1
    n = args.frames
    decode_ms = per_frame_ms(["fakesink"])
    convert_ms = per_frame_ms(["videoconvert", "!", "video/x-raw,format=BGRx", "!",
                               "fakesink"]) - decode_ms
    full_s = timed_gst(["videoconvert", "!", "video/x-raw,format=BGRx", "!",
                        "yolodetect", f"model={args.model}", f"model-dir={MODELS}",
                        f"engine={args.engine}", f"threads={args.threads}", "!",
                        "yolojson", "location=/dev/null", "!", "fakesink"], n)
    det = detect_tool(args.model, args.repeat, args.engine, args.threads)
    cv_load, cv_infer, cv_fps = opencv_anchor(args.model, n, args.repeat, args.threads)

    fps = n / full_s

    engine = "stock libdarknet" if args.engine == "darknet" else "fast engine"
    print(f"### Local pipeline, {args.model}, {engine}, {args.threads} thread(s) "
          f"({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}. Command: "
          f"`bench/local_pipeline.py --frames {n} --model {args.model} "
          f"--engine {args.engine} --threads {args.threads}`. OpenCV DNN at the same "
          f"thread count. The stage rows come from yoloswitch-detect on dog.jpg, "
          f"which has vtest.avi's 768x576 size.\n")
    print("| measure | yoloswitch | OpenCV DNN anchor (same run) | ratio (ours / anchor time) |")
    print("|---|---|---|---|")
    print(f"| pipeline frames/s (decode, convert, detect, JSON; {n} frames, start-up included) | "
          f"{fps:.1f} | {cv_fps:.1f} (VideoCapture + dnn) | {cv_fps / fps:.2f} |")
    print(f"| inference ms/frame (median of {args.repeat}, 768x576 -> 320x320) | "
          f"{det['infer_ms']:.1f} | {cv_infer:.1f} | {det['infer_ms'] / cv_infer:.2f} |")
    print(f"| model load ms | {det['load_ms']:.1f} | {cv_load:.1f} (incl. first run) | - |")
    print(f"| stage: decode ms/frame (MS-MPEG4v3 768x576) | {decode_ms:.2f} | - | - |")
    print(f"| stage: convert ms/frame (I420 -> BGRx) | {convert_ms:.2f} | - | - |")
    print(f"| stage: prepare ms/frame (resize to network input) | {det['prepare_ms']:.2f} | - | - |")
    print(f"| stage: infer ms/frame (network + boxes + NMS) | {det['infer_ms']:.2f} | - | - |")
    print()
    share = det["infer_ms"] / (1e3 / fps) * 100
    print(f"Inference is {share:.0f} % of the per-frame time of the pipeline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
