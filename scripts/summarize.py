#!/usr/bin/python3
"""Prints a short summary of a yolojson file: frames, speed, detections per class."""
import argparse
import collections
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("jsonl")
    ap.add_argument("--seconds", type=float, help="wall time of the run")
    ap.add_argument("--outputs", nargs="*", default=[])
    args = ap.parse_args()

    frames = 0
    per_class = collections.Counter()
    frames_with = collections.Counter()
    sources = collections.Counter()
    outcomes = collections.Counter()
    with open(args.jsonl) as f:
        for line in f:
            rec = json.loads(line)
            frames += 1
            labels = set()
            for d in rec["detections"]:
                per_class[d["label"]] += 1
                sources[d["source"]] += 1
                labels.add(d["label"])
            for label in labels:
                frames_with[label] += 1
            for r in rec.get("results", []):
                if r["source"] == "edge":
                    outcomes[r.get("reason") or "result"] += 1

    if frames == 0:
        print("no frames were processed", file=sys.stderr)
        return 1
    print(f"frames:      {frames}")
    if args.seconds:
        print(f"wall time:   {args.seconds:.1f} s (model load included)")
        print(f"speed:       {frames / args.seconds:.1f} frames/s")
    print(f"detections:  {sum(per_class.values())} "
          f"({sum(per_class.values()) / frames:.1f} per frame; sources: "
          + ", ".join(f"{k} {v}" for k, v in sources.items()) + ")")
    if outcomes:
        print("edge:        " + ", ".join(
            f"{k} {v}" for k, v in outcomes.most_common())
            + "  (frames with their own result, or why not)")
    print("per class:   (detections, frames containing it)")
    for label, n in per_class.most_common():
        print(f"  {label:<14} {n:>6} {frames_with[label]:>6} "
              f"({100.0 * frames_with[label] / frames:.0f} % of frames)")
    print(f"written:     {args.jsonl}" + "".join(f", {o}" for o in args.outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
