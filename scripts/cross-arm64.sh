#!/usr/bin/env bash
# Cross-builds the whole tree for aarch64 (Debian 12 arm64) in build-arm64/
# and runs a smoke set under qemu-aarch64-static: the unit tests that are
# quick when emulated, the model subtests against the reference boxes, two
# element tests, and yoloswitch-detect on dog.jpg for both engines and two
# models compared with the x86 build's detections.  docs/ARM.md explains
# each step.
#
#   scripts/cross-arm64.sh [--full | --build-only] [--rebuild-sysroot]
#
#   --full             every unit test, every subtest, emulated (fast_engine
#                      compares 9 models on 22 inputs: expect an hour)
#   --build-only       build, run nothing
#   --rebuild-sysroot  make the sysroot again even when it is up to date
#
# The arm64 sysroot (Debian's arm64 -dev packages, unpacked, ~1 GB) is kept
# in $YOLOSWITCH_CACHE (default ~/.cache/yoloswitch)/sysroot-arm64 and made
# again only when the package list or the fix-ups below change.  Exits
# non-zero, with a sentence saying what failed, on any failure.
# Emulated timings say nothing about ARM speed: never report them.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=smoke
rebuild_sysroot=0
for arg in "$@"; do
  case "$arg" in
    --full) mode=full ;;
    --build-only) mode="build-only" ;;
    --rebuild-sysroot) rebuild_sysroot=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "cross-arm64: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

fail() {
  echo "cross-arm64: FAILED: $*" >&2
  exit 1
}

build="build-arm64"
cache=${YOLOSWITCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/yoloswitch}
sysroot=$cache/sysroot-arm64
triplet=aarch64-linux-gnu
started=$(date +%s)
step_started=$started
timings=()
step_done() {
  local now
  now=$(date +%s)
  timings+=("$1: $((now - step_started)) s")
  step_started=$now
}

# What the build links and what the emulated tests load: the arm64 twins
# of scripts/install-deps.sh's libraries, plus GStreamer's tools and
# plugins for pipelines.
SYSROOT_PACKAGES=(
  libc6-dev libglib2.0-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-libav
  libavcodec-dev libavutil-dev libswscale-dev libavformat-dev libzstd-dev
  libwebsockets-dev libssl-dev libcurl4-openssl-dev
  libopenblas-dev darknet
  libcairo2-dev libjson-glib-dev libgdk-pixbuf-2.0-dev
)
# Bump when the fix-ups change, so that cached sysroots are made again.
FIXUPS_VERSION=2

echo "== host packages (scripts/install-deps.sh --cross-arm64)"
bash scripts/install-deps.sh --cross-arm64 || fail "installing the host packages"
step_done "host packages"

# The links Debian's maintainer scripts would have made: an unpacked
# sysroot runs none.  OpenBLAS is found through update-alternatives
# (libblas.so.3 -> /etc/alternatives/... -> openblas-pthread/...), and
# every absolute symlink would point into the build machine's own /.
fix_sysroot() {
  local root=$1 link target rel
  local lib=usr/lib/$triplet blas=usr/lib/$triplet/openblas-pthread

  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    case "$target" in
      /*)
        rel=$(realpath -s -m --relative-to="$(dirname "$link")" "$root$target")
        ln -sfn "$rel" "$link"
        ;;
    esac
  done < <(find "$root" -type l -print0)

  for f in libopenblas.so.0 libopenblas.so libblas.so.3 libblas.so \
    liblapack.so.3 liblapack.so; do
    [ -e "$root/$blas/$f" ] || fail "the sysroot has no $blas/$f"
    ln -sfn "openblas-pthread/$f" "$root/$lib/$f"
  done
  [ -e "$root/$blas/pkgconfig/openblas.pc" ] || fail "the sysroot has no $blas/pkgconfig/openblas.pc"
  ln -sfn ../openblas-pthread/pkgconfig/openblas.pc "$root/$lib/pkgconfig/openblas.pc"
  for h in cblas.h f77blas.h openblas_config.h; do
    [ -e "$root/usr/include/$triplet/openblas-pthread/$h" ] || continue
    ln -sfn "openblas-pthread/$h" "$root/usr/include/$triplet/$h"
  done
}

make_sysroot() {
  local tmp=$sysroot.new mirror=()
  rm -rf "$tmp"
  mkdir -p "$cache"
  # The host's own Debian sources when it is bookworm (its mirror, its
  # snapshot), else mmdebstrap's default.
  if grep -qsw bookworm /etc/apt/sources.list.d/debian.sources; then
    mirror=(/etc/apt/sources.list.d/debian.sources)
  fi
  mmdebstrap --variant=extract --arch=arm64 --quiet \
    --include="$(
      IFS=,
      echo "${SYSROOT_PACKAGES[*]}"
    )" \
    bookworm "$tmp" "${mirror[@]}" || fail "mmdebstrap could not make the arm64 sysroot"
  fix_sysroot "$tmp"
  printf '%s\n' "$sysroot_stamp" >"$tmp/.yoloswitch-sysroot"
  rm -rf "$sysroot"
  mv "$tmp" "$sysroot"
}

sysroot_stamp="fixups $FIXUPS_VERSION: ${SYSROOT_PACKAGES[*]}"
if [ "$rebuild_sysroot" -eq 1 ] \
  || [ "$(cat "$sysroot/.yoloswitch-sysroot" 2>/dev/null)" != "$sysroot_stamp" ]; then
  echo "== arm64 sysroot: making $sysroot (mmdebstrap, ~1 GB)"
  make_sysroot
  step_done "sysroot (made, $(du -sh "$sysroot" | cut -f1))"
else
  echo "== arm64 sysroot: $sysroot is up to date (--rebuild-sysroot makes it again)"
  step_done "sysroot (cached)"
fi

# The sysroot's path for scripts/cross/aarch64-linux-gnu.ini, which reads
# it as a constant (meson passes constants from one cross file to the next).
cross_constants=$cache/sysroot-arm64.ini
printf "[constants]\nsysroot = '%s'\n" "$sysroot" >"$cross_constants"

echo "== configure $build"
# Which sysroot (path and stamp) $build was configured against: another
# one, or the same one made again, may hold other library versions, so
# nothing built against the old one is kept.
configured_for="$sysroot $(cat "$sysroot/.yoloswitch-sysroot") $(stat -c %Y "$sysroot")"
if [ ! -f "$build/build.ninja" ] \
  || [ "$(cat "$build/cross-sysroot" 2>/dev/null)" != "$configured_for" ]; then
  wipe=()
  [ ! -f "$build/meson-private/coredata.dat" ] || wipe=(--wipe)
  meson setup "${wipe[@]}" "$build" --buildtype=debugoptimized \
    --cross-file "$cross_constants" --cross-file "$PWD/scripts/cross/aarch64-linux-gnu.ini" \
    || fail "meson could not configure $build (see $build/meson-logs/meson-log.txt)"
  printf '%s\n' "$configured_for" >"$build/cross-sysroot"
fi
step_done "configure"

echo "== build $build (every target)"
build_log=$build/cross-build.log
set +e
ninja -C "$build" -j "$(nproc)" 2>&1 | tee "$build_log"
build_status=${PIPESTATUS[0]}
set -e
[ "$build_status" -eq 0 ] || fail "the arm64 build failed (see $build_log)"
# Compiler and linker warnings of what this run compiled or linked (an
# unchanged file was checked when it was built).
warnings=$(grep -c 'warning:' "$build_log" || true)
[ "$warnings" -eq 0 ] || fail "the arm64 build printed $warnings warnings (see $build_log)"
file "$build/yolo/yoloswitch-detect" | grep -q 'ARM aarch64' \
  || fail "$build/yolo/yoloswitch-detect is not an aarch64 program"
step_done "build"

if [ "$mode" = build-only ]; then
  printf '   %s\n' "${timings[@]}"
  echo "cross-arm64: built $build"
  exit 0
fi

# binfmt_misc runs the arm64 programs a test starts itself (GLib's
# g_test_trap_subprocess children, the edge server) through qemu; the
# tests' environment names the sysroot (QEMU_LD_PREFIX, tests/meson.build).
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/qemu-aarch64" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  [ -e "$binfmt/register" ] || $SUDO mount -t binfmt_misc binfmt_misc "$binfmt" \
    || fail "cannot mount binfmt_misc on $binfmt (tests that start arm64 processes need it)"
  $SUDO update-binfmts --enable qemu-aarch64 \
    || fail "cannot register qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64)"
fi
wrapper=(qemu-aarch64-static -L "$sysroot")

# Unit tests too slow emulated to run whole in the smoke set (float-heavy
# code runs 8-115x slower than native: yolo_model took 226 s, codec 64 s,
# fast_engine more than 1200 s): the subtests listed here run instead; a
# test listed with no subtests runs only with --full.  Every other unit
# test runs whole, so new quick ones (the nn_* kernel tests) join by
# themselves.
declare -A SMOKE_SUBTESTS=(
  # the fast engine (default) against stock Darknet's reference boxes
  [yolo_model]="/model/reference"
  # our NMS against Darknet's (matches-darknet runs each model 44 times,
  # 4+ min each emulated; the dog.jpg check below compares both engines)
  [fast_engine]="/fast/nms-matches-darknet /fast/nms-empty"
  [codec]=""
  [local_worker]=""
  # yolo/nn's whole networks per kernels table (neon, generic, plain C):
  # one shipped model and the small synthetic cfgs that reach the rare
  # layers; the ranges on the smallest net
  [nn_net]="/nn/matches-darknet/yolo-fastest-1.1 /nn/matches-darknet/zoo-region /nn/matches-darknet/zoo-yolo /nn/plan-and-threads/zoo-region /nn/plan-and-threads/zoo-yolo"
  [nn_net_ranges]="/nn/ranges/zoo-region /nn/reads-across /nn/packed-layers/yolo-fastest-1.1 /nn/isa-override"
  # split packets: the refusals on one cut, and the model hash pinned on
  # x86 coming out the same on arm64 (every cut x 6 schemes is 15 s
  # native, far too long emulated)
  [split_codec]="/split/mismatches-refused /split/model-hash"
)

unit_tests=$(meson introspect --tests "$build" | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if "yoloswitch:unit" in t["suite"]:
        print(t["name"])')

logs=$build/meson-logs
rm -f "$logs"/arm64-*.json "$logs"/arm64-*.txt
status=0
failed=()
run_tests() { # logbase meson-test-arguments...
  local base=$1
  shift
  meson test -C "$build" --print-errorlogs --num-processes 1 \
    --logbase "arm64-$base" "$@" || {
    status=1
    failed+=("$base")
  }
}

whole=()
for t in $unit_tests; do
  # Never emulated: valgrind cannot run arm64 code.
  case $t in *_valgrind) continue ;; esac
  if [ "$mode" = smoke ] && [ -n "${SMOKE_SUBTESTS[$t]+set}" ]; then
    continue
  fi
  whole+=("$t")
done
echo "== unit tests under qemu: ${whole[*]}"
run_tests unit "${whole[@]}"
step_done "unit tests (${#whole[@]} whole)"

if [ "$mode" = smoke ]; then
  for t in "${!SMOKE_SUBTESTS[@]}"; do
    keep=${SMOKE_SUBTESTS[$t]}
    [ -n "$keep" ] || continue
    grep -qx "$t" <<<"$unit_tests" || fail "the smoke set names $t, which $build does not have"
    # shellcheck disable=SC2086 # the kept paths are words
    skips=$(/usr/bin/python3 scripts/cross/subtest_skips.py "$build" "$t" $keep \
      -- "${wrapper[@]}") || fail "cannot list the subtests of $t"
    echo "== $t under qemu, only: $keep"
    run_tests "$t" "$t" --test-args "$skips"
  done
  step_done "model subtests"
fi

# The plugin loads and its elements work on arm64 (GstHarness, the plugin
# scanned in-process).  The others wait for budgets that stretch under
# qemu: yolooffload's latency budget is not read from the environment yet.
ELEMENT_SMOKE=(yolojson yolooverlay)
echo "== element tests under qemu: ${ELEMENT_SMOKE[*]}"
run_tests elements "${ELEMENT_SMOKE[@]}"
step_done "element tests"

# yoloswitch-detect on dog.jpg, arm64 under qemu against the x86 build:
# both engines, the local and the edge model, at threshold 0.1 so that
# there are boxes enough to compare (scripts/cross/compare_detections.py).
echo "== dog.jpg: arm64 detections against x86's"
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized >/dev/null \
    || fail "cannot configure the x86 build in build/ for the reference detections"
fi
# All of it: yoloswitch-detect loads modules it does not link (no-op after
# scripts/setup.sh).
ninja -C build >/dev/null \
  || fail "cannot build the x86 build in build/ for the reference detections"
image=/usr/share/darknet/data/dog.jpg
threshold=0.1
out=$build/cross-detections
mkdir -p "$out"
for model in yolo-fastest-1.1 yolo-fastest-1.1-xl; do
  for engine in fast darknet; do
    args=(--model-dir ../shared/models --model "$model" --engine "$engine"
      --threshold "$threshold" "$image")
    build/yolo/yoloswitch-detect "${args[@]}" >"$out/x86-$model-$engine.json" \
      || fail "the x86 yoloswitch-detect failed on $model engine=$engine"
    if ! "${wrapper[@]}" "$build/yolo/yoloswitch-detect" "${args[@]}" \
      >"$out/arm64-$model-$engine.json"; then
      status=1
      failed+=("detect $model engine=$engine (arm64 yoloswitch-detect failed)")
      continue
    fi
    /usr/bin/python3 scripts/cross/compare_detections.py \
      "$out/x86-$model-$engine.json" "$out/arm64-$model-$engine.json" "$threshold" \
      || {
        status=1
        failed+=("detect $model engine=$engine")
      }
  done
done
step_done "dog.jpg detections"

echo "== arm64, $mode, $(($(date +%s) - started)) s:"
printf '   %s\n' "${timings[@]}"
cat "$logs"/arm64-*.json >"$logs/testlog-arm64.json"
echo "arm64 $(/usr/bin/python3 scripts/summarize-tests.py "$logs/testlog-arm64.json")"
if [ "$status" -ne 0 ]; then
  fail "under qemu: ${failed[*]} (logs: $logs/arm64-*.txt, $out)"
fi
echo "cross-arm64: the arm64 build passed its $mode set under qemu"
