#!/usr/bin/python3
"""Inference engines side by side, in one run: stock libdarknet, the fast
engine, OpenCV DNN (Debian python3-opencv, cv2.dnn.readNetFromDarknet) and,
when a developer has built it by hand beside the project, ncnn (Tencent) on
the same cfg/weights converted by its darknet2ncnn, at the same input size
and thread count.

Every measurement runs in its own process (peak RSS from wait4).  In each
round every engine is measured at every thread count, then again while a
competing load (one process spinning on a core, started and always stopped
here) runs, so a noisy neighbour hits all engines alike; each figure is the
median over the rounds, with the range over the rounds beside it.  Load time
is the first load in a fresh process (cold); "warm" is the fast engine's
median of 5 more loads in one process.  Our time is yoloswitch-detect's
infer_ms (network + box decoding + NMS), ncnn's the forward through its
Yolov3DetectionOutput (decoding + NMS too), OpenCV's net.forward() alone.

ncnn: --ncnn-dir BUILD (or YOLOSWITCH_NCNN_DIR) is its cmake build directory
(Release, tools on; docs/BENCHMARKS.md); bench/ncnn_runner.cpp is compiled
against it here.  --ncnn-profile-dir a second build with -DNCNN_BENCHMARK=ON
gives ncnn's time per layer kind (a build of its own: that option prints
every layer, which slows the forward a little).

Usage: bench/engines.py [--threads 1,2] [--repeat N] [--rounds N]
       [--models a,b,...] [--ncnn-dir D [--ncnn-profile-dir D] [--ncnn-commit C]]
Prints a Markdown section for docs/BENCHMARKS.md.  Run scripts/setup.sh first.
"""
import argparse
import ctypes
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

import machine
import ncnn_anchor

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

NAMES = {"darknet": "stock Darknet", "fast": "fast", "opencv": "OpenCV", "ncnn": "ncnn"}

# The competing load: one process busy on a core for as long as it lives.
SPIN = "while True: pass"


def die_with_parent():
    """In the child: SIGKILL when this script dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class CompetingLoad:
    """A spinning process for the length of a with-block; stopped on leaving
    it, on an exception, or (PR_SET_PDEATHSIG) when this script is killed."""

    def __enter__(self):
        # No inherited stdout: a pipe it held would keep a reader waiting.
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", SPIN],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        return False


def popen_rss(cmd):
    """Runs cmd; returns its stdout, stderr and its own peak RSS in MiB (wait4).
    The output goes to files, not pipes: ncnn's profile build writes a line per
    layer per run to stderr, which would fill a pipe nobody reads until exit,
    and communicate() would reap the child before wait4 sees its usage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{errors}")
    return text, errors, usage.ru_maxrss / 1024


def ours(engine, model, threads, repeat):
    out, _, rss = popen_rss([DETECT, "--engine", engine, "--threads", str(threads),
                             "--cfg", model["cfg"], "--weights", model["weights"],
                             "--labels", model["labels"], "--profile",
                             "--repeat", str(repeat), DOG])
    return json.loads(out), rss


def warm_load(model, threads):
    """Median of 5 more loads of the fast engine in one process, measured in
    a process of its own so the reloads do not inflate the RSS figures."""
    out, _, _ = popen_rss([DETECT, "--engine", "fast", "--threads", str(threads),
                           "--cfg", model["cfg"], "--weights", model["weights"],
                           "--labels", model["labels"], "--reload", "5", DOG])
    return json.loads(out)["reload_ms"]


def opencv(model, threads, repeat):
    out, _, rss = popen_rss(["/usr/bin/python3", "-c", OPENCV_CHILD, model["cfg"],
                             model["weights"], str(model["size"]), str(threads),
                             str(repeat), DOG])
    return json.loads(out), rss


def ncnn(runner, model, threads, repeat):
    out, err, rss = popen_rss([runner, model["param"], model["bin"], str(model["size"]),
                               str(model["size"]), str(threads), str(repeat),
                               model["input"]])
    res = json.loads(out)
    res["stderr"] = err
    return res, rss


def summary(results):
    """Median and range over the rounds of infer_ms, load_ms and peak RSS,
    plus the round whose time is the median (for its profile)."""
    times = [r[0]["infer_ms"] for r in results]
    ordered = sorted(results, key=lambda r: r[0]["infer_ms"])
    return {"ms": statistics.median(times), "lo": min(times), "hi": max(times),
            "times": times,
            "load": statistics.median(r[0]["load_ms"] for r in results),
            "rss": statistics.median(r[1] for r in results),
            "mid": ordered[len(ordered) // 2][0]}


def ratio(a, b):
    """The median of the per-round ratios a / b, with their range.  Both
    engines are measured in the same round, seconds apart, so a slow phase
    of the machine (a neighbour on the host: this VM's speed moves by 1.5x
    for minutes at a time) hits both; a ratio of the two medians would mix
    rounds taken in different phases."""
    per_round = [x / y for x, y in zip(a["times"], b["times"])]
    return (f"{statistics.median(per_round):.2f} "
            f"({min(per_round):.2f}-{max(per_round):.2f})")


def fmt(s):
    return f"{s['ms']:.1f} ({s['lo']:.1f}-{s['hi']:.1f})"


def write_input(size, tmp):
    """ncnn's input, made in a child: a child's peak RSS starts from this
    process's (Linux carries the RSS high-water mark across fork and exec), so
    OpenCV and numpy must never be loaded here or every figure grows by them."""
    path = os.path.join(tmp, f"dog-{size}.f32")
    subprocess.run(["/usr/bin/python3", "-c",
                    "import sys; sys.path.insert(0, sys.argv[1]); import ncnn_anchor; "
                    "ncnn_anchor.write_input(sys.argv[2], int(sys.argv[3]), int(sys.argv[3]), "
                    "sys.argv[4])", os.path.dirname(os.path.abspath(__file__)), DOG, str(size),
                    path], check=True)
    return path


def load_model(name, tmp):
    if name == "yolov3-tiny":
        cfg = "/usr/share/darknet/cfg/yolov3-tiny.cfg"
        weights = os.path.join(tmp, "yolov3-tiny.weights")
        subprocess.run([RANDOM_WEIGHTS, cfg, weights, "1234"], check=True)
        return {"name": name, "cfg": cfg, "weights": weights, "size": 416,
                "labels": "/usr/share/darknet/data/coco.names", "note": "416, random weights"}
    return {"name": name, "cfg": os.path.join(MODELS, name + ".cfg"),
            "weights": os.path.join(MODELS, name + ".weights"), "size": 320,
            "labels": os.path.join(MODELS, "coco.names"), "note": "320"}


def measure(model, args, runner):
    """Every engine, --rounds times, in turns; then under the competing load."""
    runs = {}

    def add(key, res):
        runs.setdefault(key, []).append(res)

    tmax = max(args.threads)
    for _ in range(args.rounds):
        add(("darknet", 1, False), ours("darknet", model, 1, args.darknet_repeat))
        for t in args.threads:
            add(("fast", t, False), ours("fast", model, t, args.repeat))
            add(("opencv", t, False), opencv(model, t, args.repeat))
            if runner:
                add(("ncnn", t, False), ncnn(runner, model, t, args.repeat))
        if args.no_load:
            continue
        with CompetingLoad():
            add(("fast", tmax, True), ours("fast", model, tmax, args.repeat))
            add(("opencv", tmax, True), opencv(model, tmax, args.repeat))
            if runner:
                add(("ncnn", tmax, True), ncnn(runner, model, tmax, args.repeat))
    return {k: summary(v) for k, v in runs.items()}


def print_section(args, rows, anchor, profile_build):
    engines = ["darknet", "fast", "opencv"] + (["ncnn"] if anchor else [])
    tmax = max(args.threads)
    threads = ",".join(map(str, args.threads))
    cmd = f"bench/engines.py --threads {threads} --repeat {args.repeat} --rounds {args.rounds}"
    if anchor:
        cmd += " --ncnn-dir NCNN_BUILD" + (" --ncnn-profile-dir NCNN_PROFILE_BUILD"
                                           if profile_build else "")
    print(f"### Engines ({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}. Command: `{cmd}`. Stock libdarknet is "
          f"single-threaded (Debian's build). Each time is the median of {args.repeat} "
          f"runs on dog.jpg ({args.darknet_repeat} for stock Darknet; first run included "
          f"for ours and ncnn, 3 warm-up runs for OpenCV), then the median over "
          f"{args.rounds} rounds taken in turns, the range over the rounds in brackets. "
          f"Ratios: the median of the per-round ratios (both engines in the same round), their range in brackets. "
          f"OpenCV's load time excludes its network set-up, which it defers to the "
          f"first forward.\n")
    if anchor:
        print(f"ncnn: commit {anchor.commit}, built by hand with {anchor.flags()}; "
              f"models converted by its darknet2ncnn (YOLO outputs merged) and "
              f"ncnnoptimize; ncnn's default options but for num_threads.\n")
        if profile_build:
            print(f"ncnn's time per layer kind: a second build, {profile_build.flags()} "
                  f"(commit {profile_build.commit}).\n")

    head = "| model (input) | threads | stock darknet ms | fast ms | OpenCV DNN ms |"
    sep = "|---|---|---|---|---|"
    if anchor:
        head += " ncnn ms | fast / ncnn |"
        sep += "---|---|"
    print(head + " fast / OpenCV |")
    print(sep + "---|")
    for model, s in rows:
        for t in args.threads:
            dn = fmt(s[("darknet", 1, False)]) if t == 1 else "-"
            fa, cv = s[("fast", t, False)], s[("opencv", t, False)]
            line = f"| {model['name']} ({model['note']}) | {t} | {dn} | {fmt(fa)} | {fmt(cv)} |"
            if anchor:
                nc = s[("ncnn", t, False)]
                line += f" {fmt(nc)} | {ratio(fa, nc)} |"
            print(line + f" {ratio(fa, cv)} |")

    t0 = args.threads[0]
    names = " / ".join(NAMES[e] for e in engines)
    print(f"\nCold load and peak RSS ({t0} thread(s); stock Darknet at 1):\n")
    print(f"| model | cold load ms {names} | warm load ms fast | peak RSS MiB {names} |")
    print("|---|---|---|---|")
    for model, s in rows:
        keys = [(e, 1 if e == "darknet" else t0, False) for e in engines]
        print(f"| {model['name']} | " + " / ".join(f"{s[k]['load']:.0f}" for k in keys) +
              f" | {s['reload_ms']:.0f} | " + " / ".join(f"{s[k]['rss']:.0f}" for k in keys) +
              " |")

    if not args.no_load:
        loaded = [e for e in engines if e != "darknet"]
        print(f"\nUnder a competing load (one process spinning on a core, {tmax} threads): "
              f"median ms, and the slowdown: loaded / unloaded median, both from the same rounds:\n")
        print("| model | " + " | ".join(f"{NAMES[e]} ms (slowdown)" for e in loaded) + " |")
        print("|---|" + "---|" * len(loaded))
        for model, s in rows:
            cells = []
            for e in loaded:
                on, off = s[(e, tmax, True)], s[(e, tmax, False)]
                cells.append(f"{fmt(on)} ({on['ms'] / off['ms']:.2f}x)")
            print(f"| {model['name']} | " + " | ".join(cells) + " |")

    print("\nWhere the time goes (ms per run, 1 thread: ours from `yoloswitch-detect "
          "--profile`" + (", ncnn's from its NCNN_BENCHMARK build, layers mapped to our "
                          "kinds: Convolution 1x1 / kxk, ConvolutionDepthWise, Pooling, "
                          "Concat+Crop, Eltwise, Interp, Yolov3DetectionOutput; other = "
                          "Split and the rest" if profile_build else "") + "):\n")
    kinds = []
    for _, s in rows:
        for p in (s["profile"], s.get("ncnn_profile") or {}):
            kinds += [k for k in p if k not in kinds and k != "runs"]
    print("| model | engine | " + " | ".join(kinds) + " | sum |")
    print("|---|---|" + "---|" * (len(kinds) + 1))
    for model, s in rows:
        for engine, p in (("fast", s["profile"]), ("ncnn", s.get("ncnn_profile"))):
            if not p:
                continue
            ms = {k: (v["ms"] if isinstance(v, dict) else v) for k, v in p.items() if k != "runs"}
            print(f"| {model['name']} | {engine} | " +
                  " | ".join(f"{ms.get(k, 0.0):.2f}" for k in kinds) +
                  f" | {sum(ms.values()):.2f} |")


def parse_threads(text):
    threads = [int(t) for t in text.split(",")]
    if not threads or min(threads) < 1:
        raise argparse.ArgumentTypeError("thread counts are integers >= 1")
    return threads


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=parse_threads, default=[1, 2],
                    help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--darknet-repeat", type=int, default=10,
                    help="runs of stock libdarknet (slow: 10 keep the run short)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default="yolo-fastest-1.1,yolo-fastest-1.1-xl,"
                    "MobileNetV2-YOLOv3-Nano-coco,yolov3-tiny")
    ap.add_argument("--no-load", action="store_true",
                    help="skip the measurements under a competing load")
    ap.add_argument("--ncnn-dir", default=os.environ.get("YOLOSWITCH_NCNN_DIR"),
                    help="ncnn's cmake build directory (built by hand: docs/BENCHMARKS.md)")
    ap.add_argument("--ncnn-profile-dir",
                    help="a second ncnn build with -DNCNN_BENCHMARK=ON, for its per-layer times")
    ap.add_argument("--ncnn-commit", help="ncnn's commit, when its source is not a git checkout")
    args = ap.parse_args()
    # SIGTERM unwinds like an exception, so the competing load is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = tempfile.mkdtemp(prefix="yoloswitch-engines-")
    anchor = ncnn_anchor.Build(args.ncnn_dir, args.ncnn_commit) if args.ncnn_dir else None
    profile_build = None
    if args.ncnn_profile_dir:
        if not anchor:
            raise SystemExit("--ncnn-profile-dir needs --ncnn-dir (whose tools convert)")
        profile_build = ncnn_anchor.Build(args.ncnn_profile_dir, args.ncnn_commit)
        if not profile_build.profiles:
            raise SystemExit(f"{args.ncnn_profile_dir} was not built with -DNCNN_BENCHMARK=ON")
    runner = anchor.compile_runner(os.path.join(tmp, "ncnn-runner")) if anchor else None
    profiler = (profile_build.compile_runner(os.path.join(tmp, "ncnn-runner-profile"))
                if profile_build else None)

    rows = []
    for name in args.models.split(","):
        model = load_model(name, tmp)
        if anchor:
            model["param"], model["bin"] = anchor.convert(model["cfg"], model["weights"],
                                                          os.path.join(tmp, name))
            model["input"] = write_input(model["size"], tmp)
        s = measure(model, args, runner)
        s["reload_ms"] = warm_load(model, args.threads[0])
        # Ours: the profile of the 1-thread round with the median time (or the
        # first thread count's when 1 is not measured).
        s["profile"] = s[("fast", 1 if 1 in args.threads else args.threads[0], False)
                         ]["mid"]["profile"]
        if profiler:
            res, _ = ncnn(profiler, model, 1, args.repeat)
            s["ncnn_profile"] = ncnn_anchor.parse_profile(res["stderr"], model["param"],
                                                          res["runs"])
        rows.append((model, s))
        t = args.threads[0]
        print(f"{name} @{t}: darknet {s[('darknet', 1, False)]['ms']:.1f} fast "
              f"{s[('fast', t, False)]['ms']:.1f} opencv {s[('opencv', t, False)]['ms']:.1f}" +
              (f" ncnn {s[('ncnn', t, False)]['ms']:.1f}" if anchor else "") + " ms",
              file=sys.stderr)
    print_section(args, rows, anchor, profile_build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
