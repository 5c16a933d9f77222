#!/usr/bin/python3
"""Encoder cost on the offload path: 640x480 H.264 encode time per frame of
yolooffload's encoder (offload/encoder.c through
build/bench/yoloswitch-encode-bench), next to the ffmpeg CLI with the same
settings in the same run (libx264 ultrafast/zerolatency, 1 thread, no
B-frames, GOP 30, the same bit rate and 1 s VBV, SPS/PPS repeated).

Input: vtest.avi's first frames as raw 640x480 I420, read into memory (ours)
or from the page cache (ffmpeg), so decoding the file is not measured.

Usage: bench/encoder.py [--frames N] [--runs N]
Prints a Markdown section for docs/BENCHMARKS.md.  Run scripts/setup.sh first.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

import machine
from offload_link import HEIGHT, WIDTH, make_camera_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "build", "bench", "yoloswitch-encode-bench")


def ours(raw, frames, bitrate):
    out = subprocess.run([TOOL, raw, str(WIDTH), str(HEIGHT), str(frames), str(bitrate)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def ffmpeg(raw, frames, bitrate):
    cmd = ["ffmpeg", "-hide_banner", "-nostats", "-benchmark", "-f", "rawvideo",
           "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-r", "30", "-i", raw,
           "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast",
           "-tune", "zerolatency", "-threads", "1", "-g", "30", "-bf", "0",
           "-b:v", str(bitrate), "-maxrate", str(bitrate), "-bufsize", str(bitrate),
           "-x264-params", "repeat-headers=1", "-flags", "+low_delay",
           "-f", "h264", "-y", "/dev/null"]
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    m = re.search(r"bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s", proc.stderr)
    if not m:
        raise RuntimeError("ffmpeg printed no -benchmark line:\n" + proc.stderr[-2000:])
    size = re.findall(r"video:(\d+)kB", proc.stderr)
    return {
        "wall_ms_per_frame": float(m.group(3)) * 1e3 / frames,
        "cpu_ms_per_frame": (float(m.group(1)) + float(m.group(2))) * 1e3 / frames,
        "bytes_per_frame": int(size[-1]) * 1024 / frames if size else float("nan"),
    }


def best(runs, fn, *args):
    """The run with the least wall time: the others were disturbed."""
    return min((fn(*args) for _ in range(runs)), key=lambda r: r["wall_ms_per_frame"])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "camera.i420")
        make_camera_file(raw, args.frames)
        for bitrate in (500_000, 1_000_000, 2_000_000):
            rows.append((bitrate, best(args.runs, ours, raw, args.frames, bitrate),
                         best(args.runs, ffmpeg, raw, args.frames, bitrate)))

    print(f"### Encoder, 640x480 H.264 ({datetime.date.today().isoformat()})\n")
    print(f"Machine: {machine.describe()}. Command: `bench/encoder.py --frames {args.frames} "
          f"--runs {args.runs}` (best of {args.runs}). Ours: the yolooffload encoder via "
          f"build/bench/yoloswitch-encode-bench, timing each encode call. Anchor: `ffmpeg "
          f"-benchmark ... -c:v libx264 -preset ultrafast -tune zerolatency -threads 1 -g 30 "
          f"-bf 0 -b:v B -maxrate B -bufsize B -x264-params repeat-headers=1 -f h264 "
          f"/dev/null` on the same frames in the same run; its time also includes reading "
          f"the raw input and muxing.\n")
    print("| bit rate | ours ms/frame (wall) | ours CPU ms/frame | ours median / p95 ms "
          "| ffmpeg ms/frame (wall) | ffmpeg CPU ms/frame | ratio (ours / ffmpeg wall) "
          "| ours B/frame | ffmpeg B/frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bitrate, o, f in rows:
        print(f"| {bitrate / 1e6:g} Mbit/s | {o['wall_ms_per_frame']:.2f} | "
              f"{o['cpu_ms_per_frame']:.2f} | {o['median_ms']:.2f} / {o['p95_ms']:.2f} | "
              f"{f['wall_ms_per_frame']:.2f} | {f['cpu_ms_per_frame']:.2f} | "
              f"{o['wall_ms_per_frame'] / f['wall_ms_per_frame']:.2f} | "
              f"{o['bytes_per_frame']:.0f} | {f['bytes_per_frame']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
