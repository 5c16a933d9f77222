#!/usr/bin/python3
"""Compares two yoloswitch-detect JSON lines for the same image: the x86
build's (the reference) and the arm64 build's run under qemu.

    compare_detections.py REFERENCE.json CANDIDATE.json THRESHOLD

Every reference detection must have one candidate detection of the same
class within 1 px on x, y, w and h and 0.002 in confidence, and the
candidate may report nothing else.  Only a detection within 0.002 of the
threshold may be missing on either side: float rounding differs between
the two ISAs (FMA contraction, vector reductions) and may put it on the
other side.  Prints one line per image; exits 1 on any mismatch."""
import json
import sys

BOX_PX = 1.0
CONFIDENCE = 0.002


def load(path):
    with open(path) as f:
        return json.loads(f.readline())


def close(a, b):
    return (a["label"] == b["label"]
            and all(abs(a[k] - b[k]) <= BOX_PX for k in ("x", "y", "w", "h"))
            and abs(a["confidence"] - b["confidence"]) <= CONFIDENCE)


def main():
    ref, cand = load(sys.argv[1]), load(sys.argv[2])
    threshold = float(sys.argv[3])
    what = f"{ref['model']} engine={ref['engine']} on {ref['image']}"
    if (cand["model"], cand["engine"]) != (ref["model"], ref["engine"]):
        print(f"{what}: compared with {cand['model']} engine={cand['engine']}")
        return 1
    left = list(cand["detections"])
    problems = []
    for r in ref["detections"]:
        match = next((c for c in left if close(r, c)), None)
        if match is not None:
            left.remove(match)
        elif r["confidence"] > threshold + CONFIDENCE:
            problems.append(f"x86 {r} has no arm64 match")
    for c in left:
        if c["confidence"] > threshold + CONFIDENCE:
            problems.append(f"arm64 {c} has no x86 match")
    if problems:
        print(f"{what}: MISMATCH ({len(ref['detections'])} x86, "
              f"{len(cand['detections'])} arm64 detections)")
        for p in problems:
            print("  " + p)
        return 1
    print(f"{what}: {len(ref['detections'])} x86 and "
          f"{len(cand['detections'])} arm64 detections agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
