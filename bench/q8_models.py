#!/usr/bin/python3
"""8-bit weights against float (issue 16, docs/MODELS.md): for each shipped
model, yoloswitch-quantize's file size against the float file, the load time
of each (yoloswitch-detect: the first load in a fresh process, and the median
of --reload more), and the accuracy of each against the edge model on
undegraded frames (IoU accuracy and F1 at IoU 0.5, as PRIOR_ART.md defines
them; bench/adaptation.py's matching), on frames of vtest.avi and on
Darknet's still images.  For models of other classes than the edge model's
(person-only, faces, VOC) the float model is the reference: the figure is
then how far the 8-bit model strays from it.

Usage: bench/q8_models.py [--frames 200] [--every 4] [--reload 5]
           [--models a,b,...] [--out DIR]
Prints the Markdown section for docs/MODELS.md.  Run scripts/setup.sh first;
needs python3-opencv (Debian's, seen by /usr/bin/python3) for the frames.
"""
import argparse
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

import cv2

import adaptation as ad
import machine

ROOT = ad.ROOT
BUILD = os.path.join(ROOT, "build")
MODELS = os.path.join(os.path.dirname(ROOT), "shared", "models")
VIDEO = os.path.join(os.path.dirname(ROOT), "shared", "data", "vtest.avi")
STILLS = sorted(glob.glob("/usr/share/darknet/data/*.jpg"))
EDGE = "yolo-fastest-1.1-xl"
SHIPPED = ["yolo-fastest-1.1", "yolo-fastest-1.1-xl", "MobileNetV2-YOLOv3-Nano-coco",
           "yolo-lite-coco", "yolo-lite-voc", "yolo-fastest-1.1_body", "yoloface-500k"]
LABELS = {"yolo-lite-voc": "voc.names", "yolo-fastest-1.1_body": "body.names",
          "yoloface-500k": "face.names"}


def dump_frames(out_dir, frames, every):
    """Every `every`-th of the first `frames` frames as lossless PNG."""
    cap = cv2.VideoCapture(VIDEO)
    paths = []
    for i in range(frames):
        ok, img = cap.read()
        if not ok:
            break
        if i % every == 0:
            p = os.path.join(out_dir, f"vtest-{i:04d}.png")
            cv2.imwrite(p, img)
            paths.append(p)
    return paths


def detect(model, weights, images, reload):
    """yoloswitch-detect's JSON lines, one per image, and its load times."""
    cmd = [os.path.join(BUILD, "yolo", "yoloswitch-detect"),
           "--cfg", os.path.join(MODELS, model + ".cfg"), "--weights", weights,
           "--labels", os.path.join(MODELS, LABELS.get(model, "coco.names")),
           "--reload", str(reload), *images]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True).stdout
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    assert len(lines) == len(images), (model, len(lines), len(images))
    first = lines[0]
    return {l["image"]: l["detections"] for l in lines}, first["load_ms"], first.get("reload_ms")


def matched(ref, pred):
    """Greedy same-class pairs from the highest IoU down: the IoUs."""
    pairs = sorted(((ad.iou(r, p), i, j) for i, r in enumerate(ref)
                    for j, p in enumerate(pred) if r["class_id"] == p["class_id"]),
                   key=lambda t: (-t[0], t[1], t[2]))
    used_r, used_p, ious = set(), set(), []
    for v, i, j in pairs:
        if v > 0 and i not in used_r and j not in used_p:
            used_r.add(i)
            used_p.add(j)
            ious.append(v)
    return ious


def score(ref, pred, images):
    """Mean per-image IoU accuracy and F1 at 0.5 over images."""
    accs, tp, nr, np_ = [], 0, 0, 0
    for im in images:
        accs.append(ad.iou_accuracy(ref[im], pred[im]))
        tp += sum(1 for v in matched(ref[im], pred[im]) if v >= 0.5)
        nr += len(ref[im])
        np_ += len(pred[im])
    f1 = 1.0 if nr == np_ == 0 else 2 * tp / max(nr + np_, 1)
    return statistics.mean(accs), f1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--reload", type=int, default=5)
    ap.add_argument("--models", default=",".join(SHIPPED))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out_dir = args.out or tempfile.mkdtemp(prefix="yoloswitch-q8-")
    os.makedirs(out_dir, exist_ok=True)
    frames = dump_frames(out_dir, args.frames, args.every)
    images = frames + STILLS
    edge_ref, _, _ = detect(EDGE, os.path.join(MODELS, EDGE + ".weights"), images, 1)
    rows = []
    for model in args.models.split(","):
        q8 = os.path.join(out_dir, model + ".q8.weights")
        info = json.loads(subprocess.run(
            [os.path.join(BUILD, "yolo", "yoloswitch-quantize"), "--model", model,
             "--model-dir", MODELS, "--out", q8],
            stdout=subprocess.PIPE, check=True, text=True).stdout)
        fl, fl_load, fl_reload = detect(model, os.path.join(MODELS, model + ".weights"),
                                        images, args.reload)
        qd, q_load, q_reload = detect(model, q8, images, args.reload)
        ref = edge_ref if LABELS.get(model) is None else fl
        row = {"model": model, "float_bytes": info["float_bytes"], "q8_bytes": info["q8_bytes"],
               "ratio": info["ratio"], "float_load_ms": fl_load, "float_reload_ms": fl_reload,
               "q8_load_ms": q_load, "q8_reload_ms": q_reload,
               "reference": "edge" if ref is edge_ref else "float"}
        for name, ims in (("video", frames), ("stills", STILLS)):
            row[f"float_{name}"] = score(ref, fl, ims)
            row[f"q8_{name}"] = score(ref, qd, ims)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print(f"### 8-bit weights ({datetime.date.today()})\n")
    print(f"Machine: {machine.describe()}\n")
    print(f"Command: `bench/q8_models.py --frames {args.frames} --every {args.every} "
          f"--reload {args.reload}`: {len(frames)} frames of vtest.avi, {len(STILLS)} stills; "
          f"reference the edge model ({EDGE}, float) on the same images, or the float model "
          "itself for models of other classes.\n")
    print("| model | float KB | int8 KB | int8/float | load ms float (first, median) "
          "| load ms int8 | reference | vtest IoU acc float / int8 (loss) | vtest F1 float / int8 "
          "| stills IoU acc float / int8 | stills F1 float / int8 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fv, qv, fs, qs = r["float_video"], r["q8_video"], r["float_stills"], r["q8_stills"]
        print(f"| {r['model']} | {r['float_bytes'] / 1024:.0f} | {r['q8_bytes'] / 1024:.0f} "
              f"| {100 * r['ratio']:.1f} % | {r['float_load_ms']:.1f}, {r['float_reload_ms']:.1f} "
              f"| {r['q8_load_ms']:.1f}, {r['q8_reload_ms']:.1f} | {r['reference']} "
              f"| {fv[0]:.3f} / {qv[0]:.3f} ({fv[0] - qv[0]:+.3f}) | {fv[1]:.3f} / {qv[1]:.3f} "
              f"| {fs[0]:.3f} / {qs[0]:.3f} ({fs[0] - qs[0]:+.3f}) | {fs[1]:.3f} / {qs[1]:.3f} |")


if __name__ == "__main__":
    main()
