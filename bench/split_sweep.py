#!/usr/bin/python3
"""Split inference against local and edge over an uplink sweep (issue 15,
the seed paper's Figure 2 on our models and footage).

vtest.avi played in real time (10 frames/s) through the emulated link of
the offload benchmarks (shaping.py: tbf on a veth pair, delay_relay.py for
the RTT), at each bandwidth x RTT, one run per path:
  local        yoloswitch policy=local (the small model; the link unused)
  edge         yoloswitch policy=edge with the split profile's edge rows
               (the same ladder auto has): H.264 whose resolution and bit
               rate adapt to the link (the best edge configuration the
               link allows)
  h264-N       yolooffload at N kbit/s, full size (one fixed H.264
               configuration: the best of them at each bandwidth is the
               "best H.264 configuration" the issue compares against)
  split-K      yolosplit cut=K bits=8 (each candidate cut of the edge model)
  auto         yoloswitch policy=auto with the split profile
               (configs/vtest-split.profile.json: local, edge and split rows)
  auto-private the same with privacy=pixels-stay-local (local and split only)
  auto-queue   the same with stand-in=false (a frame the link path cannot
               take is queued onto it, not run locally)
  auto-relaxed auto-queue with 6 results/s and 1000 ms as targets
Targets for the switcher: bench/adaptation.py's (10 fps, IoU 0.7, 250 ms).

Per run (adaptation.py's definitions, reference: the edge model on every
raw frame): result rate (fresh results per second, each analysed frame
once), capture-to-result latency p50/p95 of those, accuracy (per output
frame the newest result, scored on the frame it ran on, 0 past 1 s old),
bytes per result sent, and device CPU ms per frame (user + system time of
the whole client process over the frames: an energy proxy).

Usage (root): bench/split_sweep.py [--bw 0.25,0.5,1,2,4,8,16] [--rtt 20,100]
    [--seconds 20] [--cuts 61,25,12,4,1] [--h264 250,500,1000,2000,4000]
    [--paths NAME,...] [--out DIR]
Prints the Markdown section for docs/SPLIT.md.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import adaptation as ad
import machine
from shaping import Link

ROOT = ad.ROOT
SPLIT_PROFILE = os.path.join(ROOT, "configs", "vtest-split.profile.json")
FPS = ad.FPS


def paths(cuts, h264):
    """name -> (element and its properties)."""
    targets = [f"{k}={v}" for k, v in ad.TARGETS.items()]
    out = {
        "local": ["yoloswitch", f"profile={SPLIT_PROFILE}", "policy=local", *targets],
        "edge": ["yoloswitch", f"profile={SPLIT_PROFILE}", "policy=edge", *targets],
        "auto": ["yoloswitch", f"profile={SPLIT_PROFILE}", *targets],
        "auto-private": ["yoloswitch", f"profile={SPLIT_PROFILE}",
                         "privacy=pixels-stay-local", *targets],
        # a frame the link cannot take is queued, as policy=edge does
        "auto-queue": ["yoloswitch", f"profile={SPLIT_PROFILE}", "stand-in=false",
                       *targets],
        # the trade fixed split makes at 1 Mbit/s: 6 results/s, 1 s latency
        "auto-relaxed": ["yoloswitch", f"profile={SPLIT_PROFILE}", "stand-in=false",
                         "target-fps=6", "max-latency-ms=1000",
                         f"target-iou={ad.TARGETS['target-iou']}"],
    }
    for kbit in h264:
        out[f"h264-{kbit}k"] = ["yolooffload", f"bitrate={kbit * 1000}", "scale=1",
                                "mode=async", "max-in-flight=4", "latency-budget-ms=1000"]
    for k in cuts:
        out[f"split-{k}"] = ["yolosplit", f"cut={k}", "bits=8", "mode=async",
                             "max-in-flight=4", "latency-budget-ms=1000"]
    return out


def run(element, mbit, rtt, seconds, out_dir, name):
    """One run: the frames' records, the results log, client CPU seconds."""
    frames = seconds * FPS
    out = os.path.join(out_dir, f"{name}.jsonl")
    results = os.path.join(out_dir, f"{name}.results.jsonl")
    with Link(mbit=mbit, rtt_ms=rtt, tag="yss") as link:
        server = link.start_in_server([ad.EDGE, "--address", link.server_ip, "--port", "0"],
                                      stderr=subprocess.DEVNULL)
        line = server.stdout.readline()
        if not line.startswith("listening on ws://"):
            raise RuntimeError(f"edge server did not start: {line!r}")
        url = link.relay_to(int(line.split(":")[-1]))
        cmd = link.in_client(["gst-launch-1.0", "-m", "-e", *ad.head(frames), "clocksync", "!",
                              *element, f"server={url}", f"results-location={results}", "!",
                              "yolojson", f"location={out}", "!", "fakesink"])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=ad.ENV)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        reader.join(timeout=10)
    with open(os.path.join(out_dir, f"{name}.log"), "w") as f:
        f.write("".join(lines))
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed:\n" + "".join(lines[-40:]))
    sent = [l for l in lines if "yoloswitch-offload-stats" in l or "yoloswitch-stats" in l]
    return {"frames": ec_read(out), "results": ec_read(results),
            "cpu_s": usage.ru_utime + usage.ru_stime, "stats": sent[-1] if sent else "",
            "decisions": [l for l in lines if "yoloswitch-decision" in l]}


def ec_read(path):
    return ad.ec.read_jsonl(path) if os.path.exists(path) else []


def bytes_sent(stats_line):
    """Bytes on the link: the link path's, plus the split path's when
    yoloswitch has both (it reports those apart, as split-bytes-sent)."""
    total = 0
    for key in (" bytes-sent=(guint64)", "split-bytes-sent=(guint64)"):
        if key in stats_line:
            total += int(stats_line.split(key)[1].split(",")[0].split(";")[0])
    return total


def analyse(result, ref, seconds):
    frames = result["frames"]
    acc = ad.result_accuracy(frames, result["results"], ref)
    fresh = {}
    for f in frames:
        for r in f.get("results", []):
            if r["status"] in ("ok", "superseded") and r.get("frame_pts") is not None:
                fresh.setdefault((r["source"], r["frame_pts"]), r.get("latency_ms", 0))
    lat = sorted(v for v in fresh.values() if v > 0)
    sources = {}
    for (source, _) in fresh:
        sources[source] = sources.get(source, 0) + 1
    return {
        "rate": len(fresh) / seconds,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p95": lat[int(0.95 * (len(lat) - 1))] if lat else float("nan"),
        "accuracy": statistics.mean(acc) if acc else 0.0,
        "cpu_ms": 1000 * result["cpu_s"] / max(len(frames), 1),
        "bytes_per_result": bytes_sent(result["stats"]) / max(len(fresh), 1),
        "sources": sources,
    }


def table(rows, names, bws, rtt):
    head = "| path | " + " | ".join(f"{bw:g} Mbit/s" for bw in bws) + " |"
    out = [f"#### RTT {rtt} ms: results/s, p50/p95 ms, accuracy", "", head,
           "|---|" + "---|" * len(bws)]
    for name in names:
        cells = []
        for bw in bws:
            s = rows.get((name, bw, rtt))
            cells.append("-" if s is None else
                         f"{s['rate']:.1f}/s, {s['p50']:.0f}/{s['p95']:.0f}, {s['accuracy']:.3f}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Device CPU ms per frame and bytes per result:")
    out.append("")
    out.append(head)
    out.append("|---|" + "---|" * len(bws))
    for name in names:
        cells = []
        for bw in bws:
            s = rows.get((name, bw, rtt))
            cells.append("-" if s is None else f"{s['cpu_ms']:.1f} ms, {s['bytes_per_result']:.0f} B")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bw", default="0.25,0.5,1,2,4,8,16")
    ap.add_argument("--rtt", default="20,100")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--cuts", default="61,25,12,4,1")
    ap.add_argument("--h264", default="250,500,1000,2000,4000",
                    help="fixed H.264 bit rates, kbit/s (none: no such paths)")
    ap.add_argument("--paths", default=None, help="names to run (default: all)")
    ap.add_argument("--out", default="/tmp/yoloswitch-split-sweep")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("split_sweep.py needs root (network namespaces and tc): run it with sudo")
    os.makedirs(args.out, exist_ok=True)
    bws = [float(v) for v in args.bw.split(",")]
    rtts = [int(v) for v in args.rtt.split(",")]
    cuts = [int(v) for v in args.cuts.split(",")]
    h264 = [] if args.h264 == "none" else [int(v) for v in args.h264.split(",")]
    everything = paths(cuts, h264)
    names = args.paths.split(",") if args.paths else list(everything)
    ref = ad.reference(args.seconds * FPS, args.out)
    rows = {}
    started = time.time()
    for rtt in rtts:
        for bw in bws:
            for name in names:
                # The local path does not use the link: measured once.
                if name == "local" and (bw, rtt) != (bws[0], rtts[0]):
                    rows[(name, bw, rtt)] = rows[(name, bws[0], rtts[0])]
                    continue
                tag = f"{name}-{bw:g}-{rtt}"
                print(f"{tag} ...", file=sys.stderr, flush=True)
                result = run(everything[name], bw, rtt, args.seconds, args.out, tag)
                rows[(name, bw, rtt)] = analyse(result, ref, args.seconds)
                print(f"  {rows[(name, bw, rtt)]}", file=sys.stderr, flush=True)
    with open(os.path.join(args.out, "sweep.json"), "w") as f:
        json.dump({f"{n}|{b}|{r}": v for (n, b, r), v in rows.items()}, f, indent=1)
    sections = [f"### Split sweep on vtest.avi ({datetime.date.today()})", "",
                f"Machine: {machine.describe()}", "",
                f"Command: `sudo bench/split_sweep.py --bw {args.bw} --rtt {args.rtt} "
                f"--seconds {args.seconds} --cuts {args.cuts}`"
                + (f" --paths {args.paths}" if args.paths else "")
                + f"; {args.seconds} s per run, {time.time() - started:.0f} s in all.", ""]
    for rtt in rtts:
        sections.append(table(rows, names, bws, rtt))
    text = "\n".join(sections)
    with open(os.path.join(args.out, "sweep.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
