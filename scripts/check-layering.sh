#!/usr/bin/env bash
# The layering rules of STYLE.md, checked on the tree (lint suite):
#  - nothing below elements/ includes a GStreamer header;
#  - only yolo/ includes darknet.h, and within yolo/ only the Darknet
#    module's files (the ones yolo/meson.build builds into
#    yoloswitch-darknet.so); nothing else includes cblas.h either;
#  - offload/'s libraries take yolo/'s vocabulary (frame.h, detections.h,
#    analysis.h, clock.h), never the model (yolo.h): the edge server's own
#    files (edge_*.c) run models and may;
#  - the offload session links neither Darknet nor OpenBLAS (the probe
#    executable given as $1 links the session and nothing else);
#  - nor do the programs and the plugin that use yolo/ (given after the
#    probe: yoloswitch-detect, yoloswitch-edge, the GStreamer plugin): they
#    reach Darknet through the module, loaded when a model needs it;
#  - a source file over 650 lines says why at its top.
set -euo pipefail
cd "$(dirname "$0")/.."
probe=${1:-}
shift || true
bad=0
fail () { echo "check-layering: $*" >&2; bad=1; }

for f in $(git ls-files 'yolo/*.[ch]' 'offload/*.[ch]' 'pipeline/*.[ch]'); do
  if grep -q '#include <gst/' "$f"; then
    fail "$f includes a GStreamer header: only elements/ may"
  fi
done
for f in $(git ls-files '*.[ch]'); do
  # test_fast_engine holds our NMS against Darknet's do_nms_sort() itself.
  case "$f" in yolo/* | tests/unit/test_fast_engine.c) continue ;; esac
  if grep -q '#include <darknet.h>' "$f"; then
    fail "$f includes darknet.h: only yolo/ may"
  fi
done
# The Darknet module's sources: keep in step with yolo/meson.build's
# shared_module('yoloswitch-darknet', ...).
darknet_module_file () {
  case "$1" in
    yolo/darknet_*|yolo/engine.h|yolo/engine_*) return 0 ;;
  esac
  return 1
}
for f in $(git ls-files 'yolo/*.[ch]'); do
  darknet_module_file "$f" && continue
  if grep -qE '#include [<"](darknet|cblas)\.h[>"]' "$f"; then
    fail "$f includes darknet.h or cblas.h: only the Darknet module's files may (yolo/meson.build)"
  fi
  if grep -qE '#include "(engine|darknet_[a-z_]*)\.h"' "$f"; then
    fail "$f includes a header of the Darknet module: go through backend.h"
  fi
done
for f in $(git ls-files '*.[ch]'); do
  case "$f" in yolo/*) continue ;; esac
  if grep -qE '#include [<"]cblas\.h[>"]' "$f"; then
    fail "$f includes cblas.h: only the Darknet module may"
  fi
done
for f in $(git ls-files 'offload/*.[ch]'); do
  case "$f" in offload/edge_*) continue ;; esac
  if grep -qE '#include "(yolo|cfg|model_internal|engine)\.h"' "$f"; then
    fail "$f includes the model: offload/ takes frame.h/detections.h/analysis.h/tensors.h"
  fi
done
if [ -n "$probe" ]; then
  if ldd "$probe" | grep -qiE 'darknet|openblas'; then
    fail "the offload session links Darknet or OpenBLAS: $(ldd "$probe" | grep -iE 'darknet|openblas' | tr -s ' \t' ' ')"
  fi
fi
for bin in "$@"; do
  if ldd "$bin" | grep -qiE 'darknet|openblas'; then
    fail "$bin links Darknet or OpenBLAS: only yoloswitch-darknet.so may: $(ldd "$bin" | grep -iE 'darknet|openblas' | tr -s ' \t' ' ')"
  fi
done
for f in $(git ls-files '*.c' '*.h'); do
  lines=$(wc -l < "$f")
  if [ "$lines" -gt 650 ] && ! head -25 "$f" | grep -q 'Why this file is long'; then
    fail "$f has $lines lines: split it, or say at its top why it is long (\"Why this file is long: ...\")"
  fi
done
if [ $bad -eq 0 ]; then echo "check-layering: ok"; fi
exit $bad
