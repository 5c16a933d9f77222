#!/usr/bin/python3
"""Adaptation under changing networks: yoloswitch policy=auto against
local only, edge only and a DeepDecision-style baseline, on vtest.avi
played in real time (10 frames/s) through an emulated link.

Traces (shaping.py: tbf on a veth pair, delay_relay.py for the RTT):
  constant   8 Mbit/s, 20 ms, 60 s (switches per minute when nothing changes)
  bandwidth  8 -> 2 -> 0.5 -> 8 Mbit/s, 15 s each, 20 ms
  rtt        20 -> 150 ms at 30 s, 8 Mbit/s
  outage     8 Mbit/s, 20 ms, link down from 20 s to 25 s (packets lost,
             connections left open), 40 s

Policies: `auto` (yoloswitch), `local` (policy=local), `edge` (policy=edge:
the edge only, its bit rate still adapts), `deepdecision`
(emulate=deepdecision: a decision once a second without hold or probe,
stop-and-wait offload, a 1 s gap on every path switch).  Targets for all:
target-fps=10, target-iou=0.7, max-latency-ms=250.

Reported per run, from the yolojson output, the element's results log and
the bus messages (reference: the edge model on every raw frame, computed
first with yolodetect; IoU accuracy as yolo/metrics defines it):
  accuracy   per output frame, the newest result the element had, scored
             on the frame it ran on (the profile's definition, so the
             oracle compares); a result over 1 s old scores 0;
  shown      per output frame, the boxes it carries (tracked onto it)
             against that frame's reference: what a viewer sees, lag
             included;
  fps ok     share of whole 1 s windows in which at least 90 % of the
             target rate of fresh results arrived (results counted by the
             frame they ran on);
  latency    p50/p95 of frame-to-result time of those results;
  no boxes   output frames without a box where the reference has objects;
  switches   configuration changes per minute (path or configuration;
             probes not counted), after the start decision;
  fallback   outage trace: link cut to the decision to go local.
The oracle knows the trace: for each frame, the profile's most accurate
configuration that the conditions of that moment allow (full bandwidth,
the RTT, the server and encode times of the profile); its accuracy is the
profile's, without start-up, tracking or switching costs.

Usage (root): bench/adaptation.py [--traces constant,bandwidth,rtt,outage]
    [--policies auto,local,edge,deepdecision] [--out DIR]
Writes DIR/adaptation.md (the tables for docs/ADAPTATION.md) and the plots
docs/adaptation-TRACE.png.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import machine
from shaping import Link

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import edge_client as ec  # noqa: E402

BUILD = os.path.join(ROOT, "build")
EDGE = os.path.join(BUILD, "offload", "yoloswitch-edge")
PROFILE = os.path.join(ROOT, "configs", "vtest.profile.json")
ENV = dict(os.environ)
ENV["GST_PLUGIN_PATH"] = os.path.join(BUILD, "elements")
ENV["GST_REGISTRY"] = "/tmp/yoloswitch-adaptation-registry.bin"

FPS = 10  # vtest.avi
TARGETS = {"target-fps": 10, "target-iou": 0.7, "max-latency-ms": 250}
WINDOW_SHARE = 0.9  # a 1 s window meets the rate with 90 % of the target

# name -> (duration s, [(at s, event, value)])
TRACES = {
    "constant": (60, [(0, "mbit", 8), (0, "rtt", 20)]),
    "bandwidth": (60, [(0, "mbit", 8), (0, "rtt", 20), (15, "mbit", 2),
                       (30, "mbit", 0.5), (45, "mbit", 8)]),
    "rtt": (60, [(0, "mbit", 8), (0, "rtt", 20), (30, "rtt", 150)]),
    "outage": (40, [(0, "mbit", 8), (0, "rtt", 20), (20, "up", False),
                    (25, "up", True)]),
}
POLICIES = {
    "auto": [],
    "local": ["policy=local"],
    "edge": ["policy=edge"],
    "deepdecision": ["emulate=deepdecision"],
}
DECISION = re.compile(r"yoloswitch-decision, path=\(string\)(\w+), "
                      r"config=\(string\)(\"[^\"]*\"|[^,]+), "
                      r"config-index=\(int\)(-?\d+), reason=\(string\)(\"[^\"]*\"|[^,]+),"
                      r".*probing=\(boolean\)(\w+).*monotonic-us=\(gint64\)(\d+)")


# Estimates each decision message carries, kept with the decision.
ESTIMATES = ("bandwidth-bps", "last-bandwidth-bps", "rtt-ms", "rtt-var-ms", "rtt-min-ms",
             "path-rtt-ms", "oldest-unacked-ms", "oldest-unacked-bytes", "server-ms")


def field(text, name, pattern):
    m = re.search(r"(?<![\w-])" + name + r"=\([a-z0-9]+\)" + pattern, text)
    return unescape(m.group(1)) if m else None


def unescape(s):
    return s.strip('"').replace("\\ ", " ").replace("\\,", ",").replace("\\(", "(").replace("\\)", ")")


# ---- accuracy (yolo/metrics.c, in Python) -------------------------------------

def iou(a, b):
    ix0, iy0 = max(a["x"], b["x"]), max(a["y"], b["y"])
    ix1 = min(a["x"] + a["w"], b["x"] + b["w"])
    iy1 = min(a["y"] + a["h"], b["y"] + b["h"])
    if a["w"] <= 0 or a["h"] <= 0 or b["w"] <= 0 or b["h"] <= 0 or ix1 <= ix0 or iy1 <= iy0:
        return 0.0
    inter = (ix1 - ix0) * (iy1 - iy0)
    return inter / (a["w"] * a["h"] + b["w"] * b["h"] - inter)


def iou_accuracy(ref, pred):
    if not ref and not pred:
        return 1.0
    pairs = sorted(((iou(r, p), i, j) for i, r in enumerate(ref)
                    for j, p in enumerate(pred) if r["class_id"] == p["class_id"]),
                   key=lambda t: (-t[0], t[1], t[2]))
    used_r, used_p, total = set(), set(), 0.0
    for v, i, j in pairs:
        if v <= 0 or i in used_r or j in used_p:
            continue
        used_r.add(i)
        used_p.add(j)
        total += v
    return total / max(len(ref), len(pred))


# ---- runs -----------------------------------------------------------------------

def head(frames):
    return ["filesrc", f"location={ec.VIDEO}", "!", "parsebin", "!", "identity",
            f"eos-after={frames + 1}", "!", "decodebin", "!", "videoconvert", "!"]


def reference(frames, out_dir):
    """The edge model on every raw frame (cached)."""
    path = os.path.join(out_dir, f"reference-{frames}.jsonl")
    if not os.path.exists(path) or len(ec.read_jsonl(path)) != frames:
        subprocess.run(["gst-launch-1.0", "-q", *head(frames), "yolodetect",
                        "model=yolo-fastest-1.1-xl", "mode=sync", "!", "yolojson",
                        f"location={path}", "!", "fakesink"], check=True, env=ENV)
    return [f["detections"] for f in ec.read_jsonl(path)]


def run(trace, policy, out_dir):
    duration, events = TRACES[trace]
    frames = duration * FPS
    out = os.path.join(out_dir, f"{trace}-{policy}.jsonl")
    results_log = os.path.join(out_dir, f"{trace}-{policy}.results.jsonl")
    mbit = next(v for _, e, v in events if e == "mbit")
    rtt = next(v for _, e, v in events if e == "rtt")
    with Link(mbit=mbit, rtt_ms=rtt, tag="ysa") as link:
        server = link.start_in_server([EDGE, "--address", link.server_ip, "--port", "0"],
                                      stderr=subprocess.DEVNULL)
        line = server.stdout.readline()
        if not line.startswith("listening on ws://"):
            raise RuntimeError(f"edge server did not start: {line!r}")
        url = link.relay_to(int(line.split(":")[-1]))
        cmd = link.in_client(["gst-launch-1.0", "-m", "-e", *head(frames), "clocksync", "!",
                              "yoloswitch", f"server={url}", f"profile={PROFILE}",
                              *[f"{k}={v}" for k, v in TARGETS.items()],
                              *POLICIES[policy], f"results-location={results_log}", "!",
                              "yolojson", f"location={out}", "!",
                              "fakesink"])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=ENV)
        lines, playing = [], threading.Event()

        def read():
            for text in proc.stdout:
                lines.append(text)
                if "Setting pipeline to PLAYING" in text:
                    playing.set()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if not playing.wait(120):
            proc.kill()
            raise RuntimeError("pipeline never played:\n" + "".join(lines[-30:]))
        t0 = time.monotonic()
        marks = {}
        for at, event, value in sorted(events, key=lambda e: e[0]):
            if at == 0:
                continue
            time.sleep(max(0, t0 + at - time.monotonic()))
            if event == "mbit":
                link.set_bandwidth(value)
            elif event == "rtt":
                link.set_rtt(value)
            elif event == "up":
                link.set_up(value)
            marks[f"{event}={value}@{at}"] = time.monotonic()
        proc.wait(timeout=duration + 300)
        reader.join(timeout=10)
    with open(os.path.join(out_dir, f"{trace}-{policy}.log"), "w") as f:
        f.write("".join(lines))
    if proc.returncode != 0:
        raise RuntimeError(f"{trace}/{policy} failed:\n" + "".join(lines[-40:]))
    decisions = []
    for text in lines:
        m = DECISION.search(text)
        if m:
            decisions.append({"path": m.group(1), "config": unescape(m.group(2)),
                              "index": int(m.group(3)), "reason": unescape(m.group(4)),
                              "probing": m.group(5) == "true",
                              "t": int(m.group(6)) / 1e6 - t0,
                              "explanation": field(text, "explanation", r"\"((?:[^\"\\]|\\.)*)\""),
                              **{name.replace("-", "_"): float(field(text, name, r"([-\d.e+]+)") or 0)
                                 for name in ESTIMATES}})
    return {"frames": ec.read_jsonl(out), "results": ec.read_jsonl(results_log),
            "decisions": decisions,
            "marks": {k: v - t0 for k, v in marks.items()}, "t0": t0}


# ---- figures --------------------------------------------------------------------

def conditions(trace, t):
    """(mbit, rtt, up) in force at t seconds."""
    state = {"mbit": None, "rtt": None, "up": True}
    for at, event, value in sorted(TRACES[trace][1], key=lambda e: e[0]):
        if at <= t:
            state[event] = value
    return state["mbit"], state["rtt"], state["up"]


def oracle_accuracy(profile, mbit, rtt, up):
    fps = TARGETS["target-fps"]
    best = 0.0
    for c in profile["configs"]:
        if not c.get("pareto"):
            continue
        if c["path"] == "local":
            if c["infer_ms"] <= 1000 / fps:
                best = max(best, c["iou_accuracy"])
        elif up:
            bits = c["bytes_per_frame"] * 8
            if bits * fps > mbit * 1e6:
                continue
            latency = rtt + bits / (mbit * 1e6) * 1000 + c["infer_ms"] + c["decode_ms"] + c["encode_ms"]
            if latency <= TARGETS["max-latency-ms"]:
                best = max(best, c["iou_accuracy"])
    return best


def result_accuracy(frames, results, ref):
    """Per output frame: the newest result the element had, scored on the
    frame it ran on (the profile's definition: no lag); 0 when that result
    is over a second old (the tracker has let its boxes go) unless the
    reference is empty too."""
    by_arrival = sorted(results, key=lambda r: r["arrival_pts"])
    out, k, newest = [], 0, None
    for i in range(len(frames)):
        pts = i * 10**9 // FPS
        while k < len(by_arrival) and by_arrival[k]["arrival_pts"] <= pts:
            r = by_arrival[k]
            if newest is None or r["frame_pts"] >= newest["frame_pts"]:
                newest = r
            k += 1
        if newest is None or pts - newest["frame_pts"] > 10**9:
            out.append(1.0 if not ref[i] else 0.0)
        else:
            j = min(len(ref) - 1, round(newest["frame_pts"] * FPS / 10**9))
            out.append(iou_accuracy(ref[j], newest["detections"]))
    return out


def analyse(trace, result, ref, profile):
    frames = result["frames"]
    duration = TRACES[trace][0]
    acc = result_accuracy(frames, result["results"], ref)
    shown = [iou_accuracy(ref[i], f["detections"]) for i, f in enumerate(frames)]
    no_boxes = sum(1 for i, f in enumerate(frames) if not f["detections"] and ref[i])
    # Fresh results, each once: (source, analysed frame).
    analyses = {}
    for f in frames:
        for r in f.get("results", []):
            if r["status"] in ("ok", "superseded") and r.get("frame_pts") is not None:
                analyses.setdefault((r["source"], r["frame_pts"]), r.get("latency_ms", 0))
    per_window = [0] * duration
    for (_, pts) in analyses:
        w = int(pts / 1e9)
        if 0 <= w < duration:
            per_window[w] += 1
    windows_ok = sum(1 for n in per_window if n >= WINDOW_SHARE * TARGETS["target-fps"])
    latencies = sorted(v for v in analyses.values() if v > 0)
    changes = [d for d in result["decisions"] if d["reason"] != "start"]
    switches, last = 0, None
    for d in result["decisions"]:
        key = (d["path"], d["index"])
        if last is not None and key != last:
            switches += 1
        last = key
    path_switches, last = 0, None
    for d in result["decisions"]:
        if last is not None and d["path"] != last:
            path_switches += 1
        last = d["path"]
    fallback = None
    cut = result["marks"].get("up=False@20")
    if cut is not None:
        after = [d for d in result["decisions"] if d["t"] >= cut - 0.05 and d["path"] == "local"]
        if after:
            fallback = (after[0]["t"] - cut) * 1000
    oracle = [oracle_accuracy(profile, *conditions(trace, i / FPS)) for i in range(len(frames))]
    per_second_acc = [statistics.mean(acc[s * FPS:(s + 1) * FPS]) for s in range(len(acc) // FPS)]
    return {
        "frames": len(frames),
        "accuracy": statistics.mean(acc),
        "shown_accuracy": statistics.mean(shown),
        "oracle": statistics.mean(oracle),
        "windows_ok": windows_ok / duration,
        "latency_p50": statistics.median(latencies) if latencies else float("nan"),
        "latency_p95": latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        "no_boxes": no_boxes,
        "switches_per_min": switches / (duration / 60),
        "path_switches": path_switches,
        "decisions": len(changes),
        "fallback_ms": fallback,
        "per_second_accuracy": per_second_acc,
        "per_second_results": per_window,
        "oracle_per_second": [statistics.mean(oracle[s * FPS:(s + 1) * FPS]) for s in range(len(oracle) // FPS)],
        "path_per_second": path_timeline(result["decisions"], duration),
    }


def path_timeline(decisions, duration):
    out, cur = [], None
    for s in range(duration):
        for d in decisions:
            if d["t"] <= s + 0.5:
                cur = d["path"]
        out.append(cur)
    return out


def plot(trace, stats, docs_dir, out_dir):
    data = os.path.join(out_dir, f"{trace}.dat")
    policies = list(stats)
    duration = TRACES[trace][0]
    with open(data, "w") as f:
        f.write("# t " + " ".join(f"acc_{p} res_{p}" for p in policies) + " oracle\n")
        for s in range(duration):
            row = [str(s + 0.5)]
            for p in policies:
                a = stats[p]["per_second_accuracy"]
                row.append(f"{a[s]:.4f}" if s < len(a) else "NaN")
                row.append(str(stats[p]["per_second_results"][s]))
            o = stats[policies[0]]["oracle_per_second"]
            row.append(f"{o[s]:.4f}" if s < len(o) else "NaN")
            f.write(" ".join(row) + "\n")
    png = os.path.join(docs_dir, f"adaptation-{trace}.png")
    n = len(policies)
    acc_plots = ", ".join(f"'{data}' using 1:{2 + 2 * i} with lines lw 2 title '{p}'"
                          for i, p in enumerate(policies))
    res_plots = ", ".join(f"'{data}' using 1:{3 + 2 * i} with steps lw 2 title '{p}'"
                          for i, p in enumerate(policies))
    script = f"""
set terminal pngcairo size 1000,700 font ',10'
set output '{png}'
set multiplot layout 2,1 title 'vtest.avi, trace "{trace}" ({describe(trace)})'
set grid
set key outside right
set ylabel 'IoU accuracy (1 s mean)'
set yrange [0:1]
set xrange [0:{duration}]
plot {acc_plots}, '{data}' using 1:{2 + 2 * n} with lines dt 2 lc 'black' title 'oracle'
set ylabel 'fresh results / s'
set yrange [0:14]
set xlabel 'time (s)'
plot {res_plots}, 10 with lines dt 3 lc 'gray' title 'target'
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return png


def describe(trace):
    parts = []
    for at, event, value in TRACES[trace][1]:
        if event == "mbit":
            parts.append(f"{value} Mbit/s at {at} s")
        elif event == "rtt":
            parts.append(f"RTT {value} ms at {at} s")
        else:
            parts.append(f"link {'up' if value else 'down'} at {at} s")
    return ", ".join(parts)


def fmt(v, spec):
    return "-" if v is None or v != v else format(v, spec)


def table(trace, stats):
    rows = [f"#### Trace `{trace}`: {describe(trace)}", "",
            "| policy | accuracy | / oracle | shown accuracy | fps windows ok | latency p50 / p95 ms | frames without boxes | switches/min | path switches | fallback ms |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for p, s in stats.items():
        rows.append(f"| {p} | {s['accuracy']:.3f} | {s['accuracy'] / s['oracle']:.2f} | {s['shown_accuracy']:.3f} | "
                    f"{100 * s['windows_ok']:.0f} % | {fmt(s['latency_p50'], '.0f')} / "
                    f"{fmt(s['latency_p95'], '.0f')} | {s['no_boxes']} | "
                    f"{s['switches_per_min']:.1f} | {s['path_switches']} | {fmt(s['fallback_ms'], '.0f')} |")
    rows.append(f"\nOracle accuracy (profile figures, no start-up or tracking cost): "
                f"{next(iter(stats.values()))['oracle']:.3f}.\n")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", default=",".join(TRACES))
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--out", default="/tmp/yoloswitch-adaptation")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("adaptation.py needs root (network namespaces and tc): run it with sudo")
    os.makedirs(args.out, exist_ok=True)
    with open(PROFILE) as f:
        profile = json.load(f)
    traces = args.traces.split(",")
    policies = args.policies.split(",")
    ref = reference(max(TRACES[t][0] for t in traces) * FPS, args.out)
    sections = [f"### Adaptation on vtest.avi ({datetime.date.today()})", "",
                f"Machine: {machine.describe()}", "",
                f"Command: `sudo bench/adaptation.py --traces {args.traces} --policies {args.policies}`", "",
                "Targets: " + ", ".join(f"{k}={v}" for k, v in TARGETS.items()) + ".", ""]
    everything = {}
    for trace in traces:
        stats = {}
        for policy in policies:
            print(f"{trace} / {policy} ...", file=sys.stderr, flush=True)
            result = run(trace, policy, args.out)
            stats[policy] = analyse(trace, result, ref, profile)
            with open(os.path.join(args.out, f"{trace}-{policy}.decisions.json"), "w") as f:
                json.dump(result["decisions"], f, indent=1)
        everything[trace] = stats
        png = plot(trace, stats, os.path.join(ROOT, "docs"), args.out)
        sections.append(table(trace, stats))
        sections.append(f"![{trace}]({os.path.basename(png)})\n")
        print(table(trace, stats), file=sys.stderr, flush=True)
    with open(os.path.join(args.out, "adaptation.json"), "w") as f:
        json.dump(everything, f, indent=1)
    with open(os.path.join(args.out, "adaptation.md"), "w") as f:
        f.write("\n".join(sections))
    print("\n".join(sections))


if __name__ == "__main__":
    main()
