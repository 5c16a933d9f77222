#!/usr/bin/env bash
# The main job on the bundled defaults: the sample video through the local
# detector, writing
#   out/detections.jsonl   one JSON object per frame
#   out/annotated.mp4      the video with boxes drawn
#   out/annotated.png      one annotated frame
# then through the edge path (yoloswitch-edge started on loopback with the
# big model, frames sent H.264 by yolooffload), writing
#   out/edge.jsonl         one JSON object per frame, with edge results
# then through the switcher (yoloswitch, at the camera's pace, against the
# same server: it starts local, probes the edge and moves there), writing
#   out/switch.jsonl       one JSON object per frame, each box saying where
#                          it came from
#   out/switch-decisions.txt  every decision and why
# and printing a summary of each.  Usage: scripts/demo.sh [--frames N] [--out DIR]
#                       [--video FILE] [--model NAME] [--switch-seconds S (30)]
set -euo pipefail
cd "$(dirname "$0")/.."

frames=-1
out=out
video=""
model=yolo-fastest-1.1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --video) video="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --switch-seconds) switch_seconds="$2"; shift 2 ;;
    --no-setup) no_setup=1; shift ;;
    *) echo "demo.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done

[ -n "${no_setup:-}" ] || bash scripts/setup.sh
. scripts/env.sh
video="${video:-$YOLOSWITCH_VIDEO}"
if [ ! -r "$video" ]; then
  echo "demo.sh: cannot read the video $video; pass --video FILE" >&2
  exit 1
fi

mkdir -p "$out"
rm -f "$out"/detections.jsonl "$out"/annotated.mp4 "$out"/annotated.png "$out"/snapshot-*.png

# identity eos-after=K passes K-1 buffers.  It counts compressed frames
# between parser and decoder: after a decoder, a multiqueue may push on after
# the EOS return and identity lets those strays through.
limit=""
if [ "$frames" -gt 0 ]; then limit="parsebin ! identity eos-after=$((frames + 1)) !"; fi

echo "== yoloswitch demo: $video -> yolodetect ($model) -> yolooverlay, yolojson"
start=$(date +%s.%N)
# shellcheck disable=SC2086
gst-launch-1.0 -q -e \
  filesrc location="$video" ! $limit decodebin ! videoconvert ! video/x-raw,format=BGRx ! \
  yolodetect model="$model" ! yolojson location="$out/detections.jsonl" ! \
  yolooverlay show-stats=true ! tee name=t \
  t. ! queue ! videoconvert ! avenc_mpeg4 bitrate=4000000 ! mp4mux ! filesink location="$out/annotated.mp4" \
  t. ! queue ! videorate drop-only=true ! video/x-raw,framerate=1/5 ! videoconvert ! pngenc ! \
       multifilesink location="$out/snapshot-%03d.png"
end=$(date +%s.%N)

# Keep the last snapshot, a frame well into the clip.
last=$(ls "$out"/snapshot-*.png | sort | tail -n 1)
mv "$last" "$out/annotated.png"
rm -f "$out"/snapshot-*.png

/usr/bin/python3 scripts/summarize.py "$out/detections.jsonl" \
  --seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" \
  --outputs "$out/annotated.mp4" "$out/annotated.png"

# The edge path: a local yoloswitch-edge on a free loopback port.
echo
echo "== edge path: $video -> yolooffload (H.264) -> yoloswitch-edge (yolo-fastest-1.1-xl) -> yolojson"
rm -f "$out/edge.jsonl"
edge_log="$out/edge-server.log"
coproc EDGE { exec yoloswitch-edge --port 0 2>"$edge_log"; }
edge_pid=$EDGE_PID
trap 'kill "$edge_pid" 2>/dev/null || true' EXIT
read -r -t 60 line <&"${EDGE[0]}" || { echo "demo.sh: the edge server did not start:" >&2; cat "$edge_log" >&2; exit 1; }
url="${line##* }"
echo "   server: $url"
start=$(date +%s.%N)
# shellcheck disable=SC2086
gst-launch-1.0 -q -e \
  filesrc location="$video" ! $limit decodebin ! videoconvert ! \
  yolooffload server="$url" mode=sync on-missing-result=warn ! yolojson location="$out/edge.jsonl" ! fakesink
end=$(date +%s.%N)
/usr/bin/python3 scripts/summarize.py "$out/edge.jsonl" \
  --seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"

# The switcher, paced like a camera (clocksync), against the same server.
switch_frames=$(( ${switch_seconds:-30} * 10 ))
if [ "$frames" -gt 0 ] && [ "$frames" -lt "$switch_frames" ]; then switch_frames=$frames; fi
echo
echo "== switcher: $video (10 frames/s, ${switch_frames} frames) -> yoloswitch target-iou=0.8 (local or edge) -> yolojson"
rm -f "$out/switch.jsonl"
gst-launch-1.0 -m -e \
  filesrc location="$video" ! parsebin ! identity eos-after=$((switch_frames + 1)) ! decodebin ! \
  videoconvert ! clocksync ! yoloswitch server="$url" target-fps=10 target-iou=0.8 ! \
  yolojson location="$out/switch.jsonl" ! fakesink 2>&1 \
  | sed -n 's/.*yoloswitch-decision, path=(string)\([a-z]*\).*explanation=(string)"\(.*\)", connected.*/\1: \2/p' \
  | sed 's/\\//g' | tee "$out/switch-decisions.txt"
kill -TERM "$edge_pid"
wait "$edge_pid" || true
/usr/bin/python3 scripts/summarize.py "$out/switch.jsonl"
