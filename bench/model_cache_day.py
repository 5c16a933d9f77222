#!/usr/bin/python3
"""The device cache over a scripted day (issue 16, docs/MODELS.md "The
device cache"): a camera asks for one of the shipped models at each of 24 x
10 moments (a fixed, seeded script: the person model by day, the face model
in the evening, others now and then), each request one `yoloswitch-models`
run against a real yoloswitch-edge on loopback serving ../shared/models,
with a budget that holds two of them.  Reports the hit rate and the bytes
fetched, for our eviction policy run for real, and for LRU and for no cache
budget at all simulated on the same script and sizes (the simulation of our
policy is checked against the real run).

Usage: bench/model_cache_day.py [--budget-mb 4] [--seed 7] [--int8]
Prints the Markdown section for docs/MODELS.md.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
import edge_client as ec  # noqa: E402

import machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
MODELS = os.path.join(os.path.dirname(ROOT), "shared", "models")
CLI = os.path.join(BUILD, "offload", "yoloswitch-models")

# Who asks for what, by hour: (model, weight).
DAY = [("yolo-fastest-1.1", 8), ("yolo-fastest-1.1_body", 3),
       ("yolo-lite-coco", 1), ("MobileNetV2-YOLOv3-Nano-coco", 1)]
EVENING = [("yoloface-500k", 6), ("yolo-fastest-1.1", 3), ("yolo-lite-voc", 1)]
NIGHT = [("yolo-fastest-1.1_body", 5), ("yoloface-500k", 2),
         ("yolo-fastest-1.1-xl", 1)]


def script(seed):
    rng = random.Random(seed)
    out = []
    for hour in range(24):
        mix = DAY if 7 <= hour < 18 else EVENING if 18 <= hour < 23 else NIGHT
        names = [m for m, _ in mix]
        weights = [w for _, w in mix]
        out += rng.choices(names, weights, k=10)
    return out


def simulate(requests, sizes, accuracy, budget, policy):
    """Hits and bytes fetched under `policy` ("value": ours, "lru")."""
    cache = {}  # name -> [uses, last_used]
    hits = fetched = 0
    for t, name in enumerate(requests):
        if name in cache:
            hits += 1
            cache[name][0] += 1
            cache[name][1] = t
            continue
        need = sizes[name]
        if budget > 0:
            while sum(sizes[n] for n in cache) + need > budget:
                def value(n):
                    uses, last = cache[n]
                    if policy == "lru":
                        return (last,)
                    acc = accuracy.get(n, -1)
                    acc = acc if acc >= 0 else 0.5
                    return ((uses + 1) * max(acc, 0.01) / max(sizes[n] / 2**20, 1e-3), last)
                victim = min(cache, key=value)
                del cache[victim]
        fetched += need
        cache[name] = [1, t]
    return hits, fetched


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget-mb", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    requests = script(args.seed)
    started = datetime.datetime.now(datetime.timezone.utc)
    cache = tempfile.mkdtemp(prefix="cache-day-")
    real_hits = real_sent = 0
    sizes, accuracy, evictions = {}, {}, []
    with ec.EdgeServer("--model", "yolo-fastest-1.1-xl", "--model-dir", MODELS,
                       "--catalog-dir", MODELS) as server:
        for name in requests:
            p = subprocess.run([CLI, "--cache-dir", cache, "--server", server.url,
                                "--budget-mb", str(args.budget_mb), name],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                sys.exit(f"{name}: {p.stderr}")
            r = json.loads(p.stdout)
            sizes[name] = r["bytes"]
            real_sent += r["sent_bytes"]
            real_hits += not r["fetched"]
            evictions += r["evicted"]
            with open(os.path.join(cache, name, "entry.json")) as f:
                accuracy[name] = json.load(f)["accuracy"]
    budget = args.budget_mb << 20
    ours = simulate(requests, sizes, accuracy, budget, "value")
    lru = simulate(requests, sizes, accuracy, budget, "lru")
    unbounded = simulate(requests, sizes, accuracy, 0, "value")
    n = len(requests)
    if ours != (real_hits, real_sent):
        print(f"warning: the simulation of our policy ({ours}) is not the real run "
              f"({real_hits}, {real_sent})", file=sys.stderr)
    counts = {m: requests.count(m) for m in sorted(set(requests), key=requests.index)}
    print(f"### The device cache over a scripted day ({started:%Y-%m-%d})\n")
    print(f"Machine: {machine.describe()}\n")
    print(f"Command: `bench/model_cache_day.py --budget-mb {args.budget_mb} "
          f"--seed {args.seed}`: {n} requests, one `yoloswitch-models` run each "
          "against yoloswitch-edge on loopback serving ../shared/models.\n")
    print("Requests: " + ", ".join(f"{m} {c} ({sizes[m] / 2**20:.2f} MB)"
                                   for m, c in counts.items()) + ".\n")
    print("| policy | hits | hit rate | MB fetched |")
    print("|---|---|---|---|")
    print(f"| ours, real run: (uses + 1) x accuracy / MB | {real_hits} | "
          f"{real_hits / n:.3f} | {real_sent / 2**20:.1f} |")
    print(f"| LRU (simulated) | {lru[0]} | {lru[0] / n:.3f} | {lru[1] / 2**20:.1f} |")
    print(f"| no budget (simulated: each model fetched once) | {unbounded[0]} | "
          f"{unbounded[0] / n:.3f} | {unbounded[1] / 2**20:.1f} |")
    print(f"\nEvictions in the real run: {len(evictions)}.")


if __name__ == "__main__":
    main()
