#!/usr/bin/python3
"""Inference engines side by side, in one run: stock libdarknet, the fast
engine and OpenCV DNN (Debian python3-opencv, cv2.dnn.readNetFromDarknet on
the same cfg/weights, same input size, same thread count).

Per model: median network time over --repeat runs, model load time, and
peak RSS of a process that loads the model and runs it.  Each measurement
runs in its own process (RSS from wait4); the three engines take turns for
--rounds rounds and each figure is the median over the rounds, so a noisy
neighbour on the machine hits all three alike.  Load time is the first load
in a fresh process (cold: it includes resolving libdarknet's and OpenBLAS's
symbols); "warm" is the median of 5 more loads in the same process.  Our time is
yoloswitch-detect's infer_ms (network + box decoding + NMS); OpenCV's is
net.forward() alone, so the comparison leans in OpenCV's favour.

Usage: bench/engines.py [--threads N] [--repeat N] [--models a,b,...]
Prints a Markdown section for docs/BENCHMARKS.md.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

import machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("YOLOSWITCH_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MODELS = os.path.join(SHARED, "models")
DOG = "/usr/share/darknet/data/dog.jpg"
DETECT = os.path.join(ROOT, "build", "yolo", "yoloswitch-detect")
RANDOM_WEIGHTS = os.path.join(ROOT, "build", "tests", "common", "yoloswitch-random-weights")

OPENCV_CHILD = r"""
import json, statistics, sys, time
import cv2
cfg, weights, size, threads, repeat, image = sys.argv[1:7]
size, threads, repeat = int(size), int(threads), int(repeat)
cv2.setNumThreads(threads)
t0 = time.monotonic()
net = cv2.dnn.readNetFromDarknet(cfg, weights)
outs = net.getUnconnectedOutLayersNames()
load_ms = (time.monotonic() - t0) * 1e3
img = cv2.imread(image)
net.setInput(cv2.dnn.blobFromImage(img, 1 / 255.0, (size, size), swapRB=True, crop=False))
for _ in range(3):
    net.forward(outs)
times = []
for _ in range(repeat):
    t = time.monotonic()
    net.forward(outs)
    times.append((time.monotonic() - t) * 1e3)
print(json.dumps({"load_ms": load_ms, "infer_ms": statistics.median(times)}))
"""


def popen_rss(cmd):
    """Runs cmd; returns its stdout and its own peak RSS in MiB (wait4)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err.decode()}")
    return out.decode(), usage.ru_maxrss / 1024


def ours(engine, cfg, weights, labels, threads, repeat, warmup):
    cmd = [DETECT, "--engine", engine, "--threads", str(threads), "--cfg", cfg,
           "--weights", weights, "--labels", labels, "--profile",
           "--repeat", str(repeat + warmup), DOG]
    out, rss = popen_rss(cmd)
    return json.loads(out), rss


def warm_load(cfg, weights, labels, threads):
    """Median of 5 more loads of the fast engine in one process, measured in
    a process of its own so the reloads do not inflate the RSS figures."""
    out, _ = popen_rss([DETECT, "--engine", "fast", "--threads", str(threads),
                        "--cfg", cfg, "--weights", weights, "--labels", labels,
                        "--reload", "5", DOG])
    return json.loads(out)["reload_ms"]


def opencv(cfg, weights, size, threads, repeat):
    out, rss = popen_rss(["/usr/bin/python3", "-c", OPENCV_CHILD, cfg, weights,
                          str(size), str(threads), str(repeat), DOG])
    return json.loads(out), rss


def median_run(results):
    """The round whose inference time is the median, with the median load
    time and peak RSS over all rounds."""
    ordered = sorted(results, key=lambda r: r[0]["infer_ms"])
    mid = dict(ordered[len(ordered) // 2][0])
    mid["load_ms"] = statistics.median(r[0]["load_ms"] for r in results)
    return mid, statistics.median(r[1] for r in results)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--darknet-repeat", type=int, default=10,
                    help="runs of stock libdarknet (slow: 10 keep the run short)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="yolo-fastest-1.1,yolo-fastest-1.1-xl,"
                    "MobileNetV2-YOLOv3-Nano-coco,yolov3-tiny")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    rows = []
    profiles = {}
    for name in args.models.split(","):
        if name == "yolov3-tiny":
            cfg = "/usr/share/darknet/cfg/yolov3-tiny.cfg"
            weights = os.path.join(tmp, "yolov3-tiny.weights")
            subprocess.run([RANDOM_WEIGHTS, cfg, weights, "1234"], check=True)
            labels = "/usr/share/darknet/data/coco.names"
            size, note = 416, "416, random weights"
        else:
            cfg = os.path.join(MODELS, name + ".cfg")
            weights = os.path.join(MODELS, name + ".weights")
            labels = os.path.join(MODELS, "coco.names")
            size, note = 320, "320"
        runs = {"darknet": [], "fast": [], "opencv": []}
        for _ in range(args.rounds):
            runs["darknet"].append(ours("darknet", cfg, weights, labels, 1,
                                        args.darknet_repeat, 0))
            runs["fast"].append(ours("fast", cfg, weights, labels, args.threads,
                                     args.repeat, 0))
            runs["opencv"].append(opencv(cfg, weights, size, args.threads, args.repeat))
        stock, stock_rss = median_run(runs["darknet"])
        fast, fast_rss = median_run(runs["fast"])
        fast["reload_ms"] = warm_load(cfg, weights, labels, args.threads)
        cv, cv_rss = median_run(runs["opencv"])
        profiles[name] = fast["profile"]
        rows.append((name, note, stock, stock_rss, fast, fast_rss, cv, cv_rss))
        print(f"{name}: darknet {stock['infer_ms']:.1f} fast {fast['infer_ms']:.1f} "
              f"opencv {cv['infer_ms']:.1f} ms", file=sys.stderr)

    print(f"### Engines ({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}. Command: "
          f"`bench/engines.py --threads {args.threads} --repeat {args.repeat}`. "
          f"Fast engine and OpenCV at {args.threads} threads; stock libdarknet is "
          f"single-threaded (Debian's build). Median of {args.repeat} runs "
          f"({args.darknet_repeat} for stock Darknet) on dog.jpg, first run included "
          f"for ours (warm-up: 3 runs for OpenCV); median of {args.rounds} rounds "
          f"taken in turns. OpenCV's load time excludes its network set-up, which "
          f"it defers to the first forward.\n")
    print("| model (input) | stock darknet ms | fast ms | OpenCV DNN ms | fast / OpenCV "
          "| darknet / fast | load ms darknet / fast / OpenCV (cold) | load ms fast (warm) "
          "| peak RSS MiB darknet / fast / OpenCV |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, note, st, st_rss, fa, fa_rss, cv, cv_rss in rows:
        print(f"| {name} ({note}) | {st['infer_ms']:.1f} | {fa['infer_ms']:.1f} | "
              f"{cv['infer_ms']:.1f} | {fa['infer_ms'] / cv['infer_ms']:.2f} | "
              f"{st['infer_ms'] / fa['infer_ms']:.1f}x | "
              f"{st['load_ms']:.0f} / {fa['load_ms']:.0f} / {cv['load_ms']:.0f} | "
              f"{fa['reload_ms']:.0f} | "
              f"{st_rss:.0f} / {fa_rss:.0f} / {cv_rss:.0f} |")
    print("\nWhere the fast engine's time goes (ms per run, from `yoloswitch-detect --profile`):\n")
    kinds = [k for k in next(iter(profiles.values())) if k != "runs"]
    print("| model | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name, p in profiles.items():
        print(f"| {name} | " + " | ".join(f"{p[k]['ms']:.2f}" for k in kinds) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
